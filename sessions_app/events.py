"""The one emitter: every action records its domain events here, inside its transaction.

`record(*events)` writes the audit rows (`SessionEvent`) in the action's transaction and, once
that transaction commits, derives from the same events everything the outside world hears:
timer tasks (a new offer's deadline, an idle timer an agent's message started), live pushes to
agents and customers (in one batch, in the order the events were recorded) and one log line per
event. On a rollback nothing is derived; inside a caller's transaction (Django admin wraps its
saves in one) it all waits for that outer commit.

Apps above this one add their own work on the same events through `on_record` (from their
AppConfig.ready, so this module imports none of them): the webhooks' outbox rows, written in
the same transaction (webhooks_app/outbox.py); the reports' rollups a late change drops, and
the wallboard's change flag after the commit (supervision_app).
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from agents_app.models import Agent
from agents_app.selectors import agent_dict
from core import sql

from . import push, selectors, timers
from .models import ChatSession, EventKind, Message, Offer, Sender, SessionEvent, SessionState

log = logging.getLogger(__name__)

# The record of these is a row of their own (the message), not a SessionEvent: only derived.
NOT_STORED = {EventKind.MESSAGE_CREATED, EventKind.MESSAGE_READ, EventKind.QUEUE_MOVED}


@dataclass(eq=False)
class Event:
    """One thing that happened. `data` is stored; the rest is what the derivations read."""

    kind: EventKind
    session: ChatSession | None = None
    agent_id: int | None = None
    data: dict = field(default_factory=dict)
    offer: Offer | None = None
    message: Message | None = None
    agent: Agent | None = None
    first_message: str | None = None  # an offered session's opening line, for the prompt bar
    notice: str | None = None  # the idle end's or queue timeout's notice shown with the end


def message_created(session: ChatSession, message: Message) -> Event:
    """The event of a new message: its serving agent hears it (if any), as things stand now."""
    serving = session.agent_id if session.state == SessionState.ACTIVE else None
    return Event(EventKind.MESSAGE_CREATED, session, serving, message=message)


_EVENT_COLUMNS = ("session_id", "kind", "agent_id", "data", "created_at")


def record(*events: Event) -> None:
    """Write the events' audit rows now; derive timers, pushes and log lines after commit."""
    if not events:
        return
    stored = [event for event in events if event.kind not in NOT_STORED]
    if stored:
        # Plain values, not SessionEvent instances: three or more on every create and offer.
        # Nothing reads their ids back: in a pipeline, no wait.
        at = sql.db_value(SessionEvent, "created_at", timezone.now())
        data = SessionEvent._meta.get_field("data")
        rows = [
            (
                None if e.session is None else sql.db_value(ChatSession, "id", e.session.pk),
                str(e.kind),
                e.agent_id,
                data.get_db_prep_save(e.data, connection),
                at,
            )
            for e in stored
        ]
        sql.insert_values(SessionEvent, _EVENT_COLUMNS, rows)
    for work in _IN_TRANSACTION:
        work(events)
    transaction.on_commit(lambda: _derive(events))


# Other apps' work on every recorded batch of events: in the action's transaction, and after
# its commit (beside the pushes, before the log lines).
_IN_TRANSACTION: list[Callable[[Iterable[Event]], None]] = []
_AFTER_COMMIT: list[Callable[[Iterable[Event]], None]] = []


def on_record(
    *,
    in_transaction: Callable[[Iterable[Event]], None] | None = None,
    after_commit: Callable[[Iterable[Event]], None] | None = None,
) -> None:
    """Register an app's work on the events (once, from its AppConfig.ready)."""
    for registry, work in ((_IN_TRANSACTION, in_transaction), (_AFTER_COMMIT, after_commit)):
        if work is not None and work not in registry:
            registry.append(work)


def _derive(events: Iterable[Event]) -> None:
    """After commit: the timers first (they are the deadlines), then pushes, then log lines.
    A failure here is logged, never raised: the commit stands, and the sweep or `seq` covers
    whatever did not go out."""
    for stage in (_schedule_timers, _publish, *_AFTER_COMMIT, _log):
        try:
            stage(events)
        except Exception:  # noqa: BLE001 -- see the docstring
            log.exception("deriving %s from %d event(s) failed", stage.__name__, len(events))


# --- timers ----------------------------------------------------------------------------------


def _schedule_timers(events: Iterable[Event]) -> None:
    deadlines = []
    for event in events:
        if event.kind in (EventKind.OFFER_MADE, EventKind.TRANSFER_REQUESTED):
            deadlines.append(event.offer.expires_at)
        elif event.kind == EventKind.SESSION_CREATED:
            session = event.session
            deadlines += [d for d in (session.overflow_at, session.queue_deadline) if d]
        elif (
            event.kind == EventKind.MESSAGE_CREATED
            and event.message.sender == Sender.AGENT
            and event.session.idle_deadline is not None
        ):
            deadlines.append(event.session.idle_deadline)
            if event.session.idle_warning_at is not None:
                deadlines.append(event.session.idle_warning_at)
    if deadlines:
        timers.schedule(*deadlines)


# --- pushes ----------------------------------------------------------------------------------


def _publish(events: Iterable[Event]) -> None:
    # One push of the new places per queue that moved, after everything else.
    moved = {e.data["group"]: e for e in events if e.kind == EventKind.QUEUE_MOVED}.values()
    others = [e for e in events if e.kind != EventKind.QUEUE_MOVED]
    frames = [frame for event in [*others, *moved] for frame in _frames(event)]
    if not frames:
        return
    with push.batch():
        for group, event_type, payload in frames:
            push.publish(group, event_type, **payload)


def _frames(event: Event) -> list[tuple[str, str, dict]]:
    """(group, frame type, payload) of every push one event makes."""
    derive = _FRAMES.get(event.kind)
    return derive(event) if derive is not None else []


def _offer_made(event: Event) -> list:
    session, offer = event.session, event.offer
    data = selectors.session_dict(session, offer=offer)
    to_agent = dict(data, first_message=event.first_message)
    countdown = selectors.countdown_dict(offer)
    return [
        (push.customer_group(session.pk), "session.updated", {"session": data}),
        (
            push.agent_group(offer.agent_id),
            "session.offered",
            {"session": to_agent, "offer": countdown},
        ),
    ]


def _assigned(event: Event) -> list:
    session = event.session
    data = selectors.session_dict(session)
    return [
        (push.agent_group(session.agent_id), "session.assigned", {"session": data}),
        (push.customer_group(session.pk), "session.updated", {"session": data}),
    ]


_GONE_REASONS = {
    EventKind.OFFER_EXPIRED: "expired",
    EventKind.OFFER_DECLINED: "declined",
    EventKind.OFFER_WITHDRAWN: "withdrawn",
}


def _offer_gone(event: Event) -> list:
    reason = _GONE_REASONS[event.kind]
    offer = event.offer
    payload = {"session_id": str(offer.session_id), "offer_id": str(offer.pk), "reason": reason}
    return [(push.agent_group(offer.agent_id), "session.offer_expired", payload)]


def _transfer_requested(event: Event) -> list:
    """The target's prompt bar (`offer.kind: transfer`); the first agent's pending state."""
    session, offer = event.session, event.offer
    to_target = dict(selectors.session_dict(session), first_message=event.first_message)
    countdown = selectors.countdown_dict(offer)
    frames = [
        (
            push.agent_group(offer.agent_id),
            "session.offered",
            {"session": to_target, "offer": countdown},
        )
    ]
    if offer.from_agent_id is not None:
        pending = {"session_id": str(session.pk), "transfer": selectors.transfer_dict(offer)}
        frames.append((push.agent_group(offer.from_agent_id), "session.transfer_pending", pending))
    return frames


def _transfer_accepted(event: Event) -> list:
    session, offer = event.session, event.offer
    data = selectors.session_dict(session)
    frames = [(push.agent_group(session.agent_id), "session.assigned", {"session": data})]
    first = event.data.get("from_agent")
    if first is not None:
        moved = {
            "session_id": str(session.pk),
            "offer_id": str(offer.pk),
            "to_agent": selectors.agent_ref(session.agent_id),
        }
        frames.append((push.agent_group(first), "session.transferred", moved))
    frames.append((push.customer_group(session.pk), "session.updated", {"session": data}))
    return frames


def _transfer_failed(event: Event) -> list:
    """The target's bar goes; the first agent hears why (expired, declined, unavailable)."""
    offer = event.offer
    gone = {
        "session_id": str(offer.session_id),
        "offer_id": str(offer.pk),
        "reason": event.data["reason"],
    }
    frames = [(push.agent_group(offer.agent_id), "session.offer_expired", gone)]
    if offer.from_agent_id is not None:
        failed = dict(gone, to_agent=selectors.agent_ref(offer.agent_id))
        frames.append((push.agent_group(offer.from_agent_id), "session.transfer_failed", failed))
    return frames


def _ended(event: Event) -> list:
    session, reason = event.session, event.session.end_reason
    ended = {"session_id": str(session.pk), "reason": reason}
    frames = []
    if event.offer is not None:  # the standing offer, withdrawn by the end
        gone = dict(ended, offer_id=str(event.offer.pk), reason="session_ended")
        frames.append((push.agent_group(event.offer.agent_id), "session.offer_expired", gone))
    if session.agent_id is not None and (
        event.offer is None or event.offer.agent_id != session.agent_id
    ):
        frames.append((push.agent_group(session.agent_id), "session.ended", ended))
    customer = dict(ended, session=selectors.session_dict(session))
    if event.notice is not None:  # an idle end's or a queue timeout's
        customer["notice"] = event.notice
    if session.accepted_at is not None:  # an agent served it: the customer may rate it
        customer.update(selectors.rating_offer(session))
    frames.append((push.customer_group(session.pk), "session.ended", customer))
    return frames


def _message(event: Event) -> list:
    session, message = event.session, event.message
    payload = {"message": selectors.message_dict(message)}
    frames = []
    if event.agent_id is not None:  # the agent serving it when it was written
        frames.append((push.agent_group(event.agent_id), "message.created", payload))
    if message.sender != Sender.CUSTOMER:
        frames.append((push.customer_group(session.pk), "message.created", payload))
    return frames


def _read(event: Event) -> list:
    """The writer's side hears how far the reader has read (`data`: reader, message_id)."""
    session, reader = event.session, event.data["reader"]
    payload = {
        "session_id": str(session.pk),
        "message_id": str(event.data["message_id"]),
        "reader": reader,
    }
    if reader == Sender.AGENT:
        return [(push.customer_group(session.pk), "message.read", payload)]
    if event.agent_id is None:
        return []
    return [(push.agent_group(event.agent_id), "message.read", payload)]


def _rated(event: Event) -> list:
    """The rated agent hears the score."""
    if event.agent_id is None:
        return []
    rated = {"session_id": str(event.session.pk), **event.data}
    return [(push.agent_group(event.agent_id), "session.rated", rated)]


def _agent_changed(event: Event) -> list:
    return [(push.agent_group(event.agent_id), "agent.updated", {"agent": agent_dict(event.agent)})]


def _queue_moved(event: Event) -> list:
    """Tell a group's queued customers their new place in line."""
    return [
        (push.customer_group(session.pk), "session.updated", {"session": data})
        for session, data in selectors.queue_with_positions(event.data["group"])
    ]


_FRAMES = {
    EventKind.OFFER_MADE: _offer_made,
    EventKind.SESSION_ASSIGNED: _assigned,
    EventKind.OFFER_ACCEPTED: _assigned,
    EventKind.OFFER_EXPIRED: _offer_gone,
    EventKind.OFFER_WITHDRAWN: _offer_gone,
    EventKind.OFFER_DECLINED: _offer_gone,
    EventKind.TRANSFER_REQUESTED: _transfer_requested,
    EventKind.TRANSFER_ACCEPTED: _transfer_accepted,
    EventKind.TRANSFER_FAILED: _transfer_failed,
    EventKind.SESSION_ENDED: _ended,
    EventKind.MESSAGE_CREATED: _message,
    EventKind.MESSAGE_READ: _read,
    EventKind.RATING_SUBMITTED: _rated,
    EventKind.AGENT_STATUS_CHANGED: _agent_changed,
    EventKind.QUEUE_MOVED: _queue_moved,
}


# --- log lines -------------------------------------------------------------------------------


def _log(events: Iterable[Event]) -> None:
    """One line per step of a session's or an agent's life, once it is true (LOG_FORMAT=json)."""
    for event in events:
        if event.kind in NOT_STORED:
            continue
        subject = f"session {event.session.pk}" if event.session else f"agent {event.agent_id}"
        extra = {"event": event.kind, "agent_id": event.agent_id, "data": event.data}
        if event.session is not None:
            extra["session_id"] = str(event.session.pk)
        log.info("%s: %s", subject, event.kind, extra=extra)
