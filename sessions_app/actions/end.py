"""A session ends: by its agent, its customer or staff (and by the idle timer, in messages)."""

from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from agents_app.models import Agent
from agents_app.selectors import service_settings
from core.errors import Conflict, Invalid

from .. import events
from ..access import check_agent_acts
from ..events import Event
from ..locks import lock_session, lock_session_for_timer, lock_standing_offer
from ..models import ChatSession, EndReason, EventKind, OfferOutcome, SessionState
from ..prompts import post_locked
from ..routing.drain import drain_after_commit

_BY_TIMERS = (EndReason.CUSTOMER_IDLE_TIMEOUT, EndReason.QUEUE_TIMEOUT)


def session_end(*, session_id: UUID | str, reason: str, agent: Agent | None = None) -> ChatSession:
    """End a session: by its agent, its customer or staff."""
    if reason not in EndReason.values or reason in _BY_TIMERS:
        raise Invalid("Unknown end reason.", field="reason")
    with transaction.atomic():
        session = lock_session(session_id)
        if reason == EndReason.AGENT_ENDED:
            check_agent_acts(session, agent)
        if session.state == SessionState.ENDED:
            raise Conflict("This chat session has already ended.", code="session_ended")
        end_locked(session, reason, now=timezone.now(), by_agent=agent)
    return session


def end_locked(
    session: ChatSession,
    reason: str,
    *,
    now: datetime,
    notice: str | None = None,
    by_agent: Agent | None = None,
) -> None:
    """End a locked session; a standing offer (a routing offer, or a transfer offer on an
    active chat) is withdrawn, the slots it and the chat held go to the queue."""
    previous = session.state
    said = []  # the notice first, while its agent still serves (and hears it)
    if reason == EndReason.AGENT_ENDED and by_agent is not None:
        said = post_locked(session, service_settings(), "agent_ended_notice", agent=by_agent.name)
    waiting = (SessionState.OFFERED, SessionState.ACTIVE)
    offer = lock_standing_offer(session) if previous in waiting else None
    if offer is not None:
        offer.outcome = OfferOutcome.WITHDRAWN
        offer.resolved_at = now
        offer.save(update_fields=["outcome", "resolved_at"])
    session.state = SessionState.ENDED
    session.ended_at = now
    session.end_reason = reason
    session.idle_deadline = session.idle_warning_at = None
    session.last_activity_at = now
    session.save(
        update_fields=[
            "state",
            "ended_at",
            "end_reason",
            "idle_deadline",
            "idle_warning_at",
            "last_activity_at",
        ]
    )
    data = {"reason": reason, "previous_state": previous}
    ended = Event(
        EventKind.SESSION_ENDED,
        session,
        by_agent.pk if by_agent else None,
        data,
        offer=offer,
        notice=notice,
    )
    if previous == SessionState.QUEUED:
        moved = Event(EventKind.QUEUE_MOVED, data={"group": session.skill_group_id})
        events.record(ended, *([moved] if session.skill_group_id else []))
        return
    events.record(*said, ended)
    # The slots it held go to whoever waits where its agent (and an offer's target) serves.
    holders = {a for a in (session.agent_id, offer and offer.agent_id) if a is not None}
    if holders:
        drain_after_commit(agent_ids=sorted(holders))


def session_queue_timeout(*, session_id: UUID | str, wait: bool = True) -> bool:
    """End a waiting session nobody served by its queue deadline (`queue_timeout`); the
    customer hears the queue timeout notice with the end, and may leave a message. An offer
    standing on it is withdrawn. `wait=False`: leave a session someone holds to them."""
    with transaction.atomic():
        session = lock_session_for_timer(session_id, wait=wait)
        if session is None:
            return False
        now = timezone.now()
        due = session.queue_deadline
        waiting = (SessionState.QUEUED, SessionState.OFFERED)
        if session.state not in waiting or due is None or now < due:
            return False
        # The notice is also the chat's last message, as an idle end's is: a page opened later
        # reads it from there.
        said = post_locked(session, service_settings(), "queue_timeout_notice")
        notice = said[0].message.body if said else None
        late_ms = round((now - due).total_seconds() * 1000, 1)
        events.record(
            *said, Event(EventKind.SESSION_QUEUE_TIMEOUT, session, data={"late_ms": late_ms})
        )
        end_locked(session, EndReason.QUEUE_TIMEOUT, now=now, notice=notice)
    return True
