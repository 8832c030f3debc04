"""The outbox: the desk's events as webhooks receive them, written with the change.

`record(events)` is called by the one emitter (sessions_app/events.py) inside the action's
transaction: for each event some active webhook wants, one `OutboxEvent` row and one
`Delivery` row per such webhook, in the same statements as the action's own writes. After the
commit the delivery worker is woken; if that wake is lost (the process died), the worker's
beat trigger finds the rows anyway.

Which webhooks want what is read from the database at most once a second per process
(`WEBHOOK_SUBSCRIPTIONS_TTL`) and at once after a change made in this process: a desk with no
webhook pays nothing per event.
"""

import threading
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents_app.selectors import agent_dict
from core import sql
from sessions_app import selectors
from sessions_app.models import EventKind, SessionState

from .delivery import wake
from .models import Delivery, OutboxEvent, Webhook

# The desk's domain events that webhooks hear, by the type they hear them as.
TYPES = {
    EventKind.SESSION_CREATED: "session.created",
    EventKind.ROUTING_QUEUED: "session.queued",
    EventKind.OFFER_MADE: "session.offered",
    EventKind.SESSION_ASSIGNED: "session.assigned",
    EventKind.OFFER_ACCEPTED: "session.assigned",
    EventKind.TRANSFER_ACCEPTED: "session.transferred",
    EventKind.SESSION_ENDED: "session.ended",
    EventKind.MESSAGE_CREATED: "message.created",
    EventKind.AGENT_STATUS_CHANGED: "agent.status_changed",
    EventKind.RATING_SUBMITTED: "rating.submitted",
}

_lock = threading.Lock()
_subscriptions: dict = {"at": None, "hooks": ()}


def subscriptions() -> tuple:
    """(webhook id, frozenset of its event types) of the active webhooks, as of at most
    `WEBHOOK_SUBSCRIPTIONS_TTL` seconds ago."""
    now = time.monotonic()
    with _lock:
        at = _subscriptions["at"]
        if at is not None and now - at < settings.WEBHOOK_SUBSCRIPTIONS_TTL:
            return _subscriptions["hooks"]
    hooks = tuple(
        (pk, frozenset(events))
        for pk, events in Webhook.objects.filter(is_active=True).values_list("pk", "events")
    )
    with _lock:
        _subscriptions.update(at=now, hooks=hooks)
    return hooks


def forget_subscriptions() -> None:
    """A webhook changed in this process: read them again at the next event."""
    with _lock:
        _subscriptions["at"] = None


def _payload(event, event_type: str) -> dict:
    session = event.session
    if event_type == "message.created":
        return {"session_id": str(session.pk), "message": selectors.message_dict(event.message)}
    if event_type == "agent.status_changed":
        return {"agent": agent_dict(event.agent)} if event.agent is not None else {}
    if event_type == "rating.submitted":
        rating = selectors.rating_dict(getattr(session, "rating", None))
        return {"session_id": str(session.pk), "rating": rating or event.data}
    offer = event.offer if session.state == SessionState.OFFERED else None
    data = {"session": selectors.session_dict(session, offer=offer)}
    if event_type == "session.ended":
        data["record"] = selectors.session_record(session)
    return data


def record(events) -> int:
    """Write the outbox rows of the events some active webhook wants; returns how many
    deliveries. Inside the action's transaction."""
    hooks = subscriptions()
    if not hooks:
        return 0
    now = timezone.now()
    written, deliveries = [], []
    for event in events:
        event_type = TYPES.get(event.kind)
        if event_type is None:
            continue
        wanted = [pk for pk, types in hooks if "*" in types or event_type in types]
        if not wanted:
            continue
        found = OutboxEvent(
            id=uuid.uuid4(), type=event_type, created_at=now, data=_payload(event, event_type)
        )
        written.append(found)
        deliveries += [_delivery(found, pk, now) for pk in wanted]
    return _write(written, deliveries)


def _delivery(event: OutboxEvent, webhook_id: int, now) -> Delivery:
    return Delivery(
        id=uuid.uuid4(),
        webhook_id=webhook_id,
        event=event,
        event_type=event.type,
        created_at=now,
        next_attempt_at=now,
    )


def _alive(webhook_ids: set) -> set:
    """Which of these webhooks still exist and are on, each held (KEY SHARE) until the commit
    so that none is deleted before its deliveries are in: this process's list may be up to
    `WEBHOOK_SUBSCRIPTIONS_TTL` old."""
    table = Webhook._meta.db_table
    rows = sql.rows(
        f"SELECT id FROM {table} WHERE is_active AND id IN ({sql.marks(len(webhook_ids))})"
        + sql.lock_clause("FOR KEY SHARE"),
        sorted(webhook_ids),
    )
    return {pk for (pk,) in rows}


def _write(written: list, deliveries: list) -> int:
    if not deliveries:
        return 0
    wanted = {d.webhook_id for d in deliveries}
    alive = _alive(wanted)
    if alive != wanted:  # deleted or turned off meanwhile: read them again next time
        forget_subscriptions()
        deliveries = [d for d in deliveries if d.webhook_id in alive]
        kept = {d.event_id for d in deliveries}
        written = [e for e in written if e.pk in kept]
        if not deliveries:
            return 0
    sql.insert(written, returning=False)
    sql.insert(deliveries, returning=False)
    transaction.on_commit(wake)
    return len(deliveries)


def record_ping(webhook: Webhook) -> Delivery:
    """A `ping` for one webhook (whatever its events), delivered as any event is."""
    now = timezone.now()
    with transaction.atomic():
        found = OutboxEvent(id=uuid.uuid4(), type="ping", created_at=now, data={})
        delivery = _delivery(found, webhook.pk, now)
        _write([found], [delivery])
    return delivery
