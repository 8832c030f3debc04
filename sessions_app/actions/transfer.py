"""Transfer: the serving agent (or staff) hands an active chat to another agent or group.

The target gets an offer of kind `transfer` (whatever the service mode), counted against its
capacity while it stands. The chat stays active with its agent, who may keep writing, until
the target accepts (the chat moves; the customer is told), declines or lets the offer expire
(nothing moves; the first agent hears why). One transfer at a time per chat: the standing
offer's unique index holds it even against a race. Accepting, declining and expiring are in
`offers.py` and `routing/requeue.py`, beside the routing offers they share their rows with.
"""

from datetime import timedelta
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from agents_app.locks import lock_agent
from agents_app.models import Agent, AgentStatus
from agents_app.selectors import agent_capacity, agent_load, agents_with_load, service_settings
from core.errors import Conflict, Invalid, NotFound
from core.text import clean_note
from skills_app.models import SkillGroup

from .. import events
from ..access import check_agent_acts
from ..events import Event
from ..locks import lock_session, lock_standing_offer
from ..models import (
    ChatSession,
    EventKind,
    Offer,
    OfferKind,
    OfferOutcome,
    SessionState,
)
from ..prompts import post_locked
from ..routing.drain import drain_after_commit
from ..routing.lock import RoutingSettings
from ..routing.pool import Pool
from ..routing.strategy import rank
from ..selectors import first_customer_message

MAX_NOTE = 500


def session_transfer(
    *,
    session_id: UUID | str,
    to_agent: object = None,
    to_group: object = None,
    note: object = None,
    by_agent: Agent | None = None,
    staff: bool = False,
) -> Offer:
    """Offer an active chat to `to_agent` (online, with room) or to the best eligible agent of
    `to_group` other than its agent. By its agent, or by staff (`staff=True`) for any chat."""
    note = clean_note(note, limit=MAX_NOTE)
    if (to_agent is None) == (to_group is None):
        raise Invalid("Give exactly one of to_agent and to_group.", field="to_agent")
    with transaction.atomic():
        session = lock_session(session_id)
        if not staff:
            check_agent_acts(session, by_agent)
        if session.state == SessionState.ENDED:
            raise Conflict("This chat session has ended.", code="session_ended")
        if session.state != SessionState.ACTIVE:
            raise Conflict("Only an active chat can be transferred.", code="not_active")
        if lock_standing_offer(session) is not None:
            raise Conflict("A transfer of this chat is already pending.", code="transfer_pending")
        cfg = service_settings()
        # Agents are locked last (the lock order): whoever routes to them sees this offer.
        if to_agent is not None:
            target = _agent_target(session, to_agent, cfg)
        else:
            target = _group_target(session, to_group, cfg)
        now = timezone.now()
        offer = Offer.objects.create(
            session=session,
            agent_id=target,
            kind=OfferKind.TRANSFER,
            from_agent_id=session.agent_id,
            note=note,
            expires_at=now + timedelta(seconds=cfg.accept_timeout_seconds),
            timeout_seconds=cfg.accept_timeout_seconds,
        )
        data = {"offer_id": offer.pk, "from_agent": session.agent_id, "to_agent": target}
        if to_group is not None:
            data["to_group"] = int(to_group)
        events.record(
            Event(
                EventKind.TRANSFER_REQUESTED,
                session,
                target,
                data,
                offer=offer,
                first_message=first_customer_message(session),
            )
        )
    return offer


def _int_id(value: object, field: str) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        raise Invalid(f"{field} must be an id.", field=field) from None
    if number <= 0:
        raise Invalid(f"{field} must be an id.", field=field)
    return number


def _agent_target(session: ChatSession, to_agent: object, cfg) -> int:
    target = _int_id(to_agent, "to_agent")
    if target == session.agent_id:
        raise Invalid("That agent already serves this chat.", field="to_agent")
    try:
        agent = lock_agent(target)
    except NotFound:
        raise Invalid("No such agent.", field="to_agent") from None
    if agent.status != AgentStatus.ONLINE:
        raise Conflict(f"{agent.name} is not online.", code="agent_unavailable")
    # Read after the lock: whoever routes to this agent commits first, or waits for us.
    load = agent_load(agents_with_load(Agent.objects.filter(pk=target)).get())
    if load >= agent_capacity(agent, cfg):
        raise Conflict(f"{agent.name} has no room for another chat.", code="agent_unavailable")
    return target


def _group_target(session: ChatSession, to_group: object, cfg) -> int:
    group_id = _int_id(to_group, "to_group")
    group = SkillGroup.objects.filter(pk=group_id).first()
    if group is None:
        raise Invalid("No such skill group.", field="to_group")
    # The group's online members locked, then their loads read: as a router does, without the
    # group's routing lock (no queue is touched), so nobody waits for a drain of that group.
    pool = Pool.load(RoutingSettings.of(cfg), group.pk, group_name=group.name)
    free = [a for a in pool.agents if a.room and a.pk != session.agent_id]
    if not free:
        raise Conflict(f"Nobody in {group.name} can take a chat now.", code="no_agent_available")
    return min(free, key=rank).pk


def transfer_accept_locked(session: ChatSession, offer: Offer, agent: Agent, now) -> None:
    """The target takes a locked session whose standing transfer offer is its own: the chat
    moves, the first agent's room frees, the customer gets the transfer notice."""
    first = session.agent_id
    offer.outcome, offer.resolved_at = OfferOutcome.ACCEPTED, now
    offer.save(update_fields=["outcome", "resolved_at"])
    session.agent = agent
    session.last_activity_at = now
    session.save(update_fields=["agent", "last_activity_at"])
    recorded = [
        Event(
            EventKind.TRANSFER_ACCEPTED,
            session,
            agent.pk,
            {"offer_id": offer.pk, "from_agent": first},
            offer=offer,
        )
    ]
    recorded += post_locked(session, service_settings(), "transfer_notice", agent=agent.name)
    events.record(*recorded)
    if first is not None:
        drain_after_commit(agent_ids=[first])
