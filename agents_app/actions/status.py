"""An agent's status: online, away or offline, and what leaving does to its standing offers."""

from django.db import transaction
from django.utils import timezone

from core.commit import after_commit
from core.errors import Invalid
from sessions_app import events
from sessions_app.events import Event
from sessions_app.locks import lock_sessions
from sessions_app.models import ChatSession, EventKind, Offer, OfferOutcome
from sessions_app.routing.drain import queue_drain
from sessions_app.routing.lock import lock_routing
from sessions_app.routing.requeue import offers_resolve_locked, requeue_locked

from ..locks import lock_agent
from ..models import Agent, AgentStatus


def agent_set_status(*, agent_id: int, status: str) -> Agent:
    """Set an agent's status, in one transaction.

    Going away or offline withdraws its standing offers at once and puts their sessions back
    in line (another agent gets them); coming online lets the queue drain to it. Active chats
    stay with the agent either way. `agent.updated` reaches its workspaces after the commit.
    """
    if status not in AgentStatus.values:
        raise Invalid(f"status must be one of {', '.join(AgentStatus.values)}.", field="status")
    leaving = status != AgentStatus.ONLINE
    with transaction.atomic():
        # Sessions first (the lock order): those this agent is offered now, read unlocked.
        offered = _standing_offer_sessions(agent_id) if leaving else []
        sessions = lock_sessions(offered)
        # Then the routing lock: no allocation can pick this agent while its status changes.
        lock_routing()
        agent = lock_agent(agent_id)
        if agent.status == status:
            return agent
        agent.status = status
        agent.status_changed_at = timezone.now()
        agent.save(update_fields=["status", "status_changed_at"])
        if leaving:
            _withdraw_locked(agent, sessions)
        else:
            after_commit(queue_drain)
        events.record(
            Event(EventKind.AGENT_STATUS_CHANGED, agent_id=agent.pk, data={"status": status},
                  agent=agent)
        )  # fmt: skip
    return agent


def _standing_offer_sessions(agent_id: int) -> list:
    standing = Offer.objects.standing().filter(agent_id=agent_id)
    return sorted(set(standing.values_list("session_id", flat=True)))


def _withdraw_locked(agent: Agent, sessions: dict) -> None:
    """Withdraw the agent's standing offers on the locked sessions, and any made before the
    routing lock was ours whose sessions nobody else holds; the rest, held by someone right
    now, right after the commit."""
    offers = list(Offer.objects.standing().select_for_update().filter(agent=agent))
    late = [o.session_id for o in offers if o.session_id not in sessions]
    if late:
        # After the routing lock, sessions only with SKIP LOCKED (never waiting).
        held = ChatSession.objects.select_for_update(skip_locked=True).filter(pk__in=late)
        sessions = {**sessions, **{session.pk: session for session in held.order_by("pk")}}
    pairs = [(sessions[o.session_id], o) for o in offers if o.session_id in sessions]
    if pairs:
        offers_resolve_locked(pairs, OfferOutcome.WITHDRAWN, timezone.now())
        requeue_locked([session for session, _ in pairs])
    if len(pairs) < len(offers):
        after_commit(offers_withdraw_for_agent, agent_id=agent.pk)


def offers_withdraw_for_agent(*, agent_id: int) -> int:
    """Withdraw every standing offer of an agent who is not online, re-routing the sessions."""
    session_ids = _standing_offer_sessions(agent_id)
    if not session_ids:
        return 0
    with transaction.atomic():
        sessions = lock_sessions(session_ids)
        lock_routing()
        agent = lock_agent(agent_id)
        if agent.status == AgentStatus.ONLINE:
            return 0  # back already: its offers stand
        offers = (
            Offer.objects.standing()
            .select_for_update()
            .filter(agent_id=agent_id, session_id__in=sessions)
        )
        pairs = [(sessions[offer.session_id], offer) for offer in offers]
        if pairs:
            offers_resolve_locked(pairs, OfferOutcome.WITHDRAWN, timezone.now())
            requeue_locked([session for session, _ in pairs])
    return len(pairs)
