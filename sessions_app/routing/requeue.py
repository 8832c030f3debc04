"""Offers that end without an accept (expired, withdrawn), and their sessions back in line."""

from datetime import datetime

from django.utils import timezone

from core.commit import after_commit

from .. import events
from ..events import Event
from ..models import ChatSession, EventKind, Offer, OfferOutcome, SessionState
from .drain import DRAIN_BATCH, audit_requeued, queue_drain, route_locked
from .lock import try_lock_routing
from .pool import Pool


def lock_overdue_offers(
    now: datetime, *, exclude: set, limit: int = DRAIN_BATCH
) -> list[tuple[ChatSession, Offer]]:
    """Sessions with an overdue standing offer, locked with SKIP LOCKED (never waiting)."""
    overdue = Offer.objects.standing().filter(expires_at__lte=now).values("session_id")
    sessions = list(
        ChatSession.objects.select_for_update(skip_locked=True)
        .filter(state=SessionState.OFFERED, pk__in=overdue)
        .exclude(pk__in=exclude)
        .order_by("pk")[:limit]
    )
    if not sessions:
        return []
    by_id = {session.pk: session for session in sessions}
    offers = (
        Offer.objects.standing()
        .select_for_update()
        .filter(session_id__in=by_id, expires_at__lte=now)
    )
    return [(by_id[offer.session_id], offer) for offer in offers]


def offers_resolve_locked(
    pairs: list[tuple[ChatSession, Offer]], outcome: str, now: datetime
) -> None:
    """Mark locked standing offers expired or withdrawn, and record it (their agents hear)."""
    Offer.objects.filter(pk__in=[offer.pk for _, offer in pairs]).update(
        outcome=outcome, resolved_at=now
    )
    recorded = []
    for session, offer in pairs:
        offer.outcome, offer.resolved_at = outcome, now
        data = {"offer_id": offer.pk}
        if outcome == OfferOutcome.EXPIRED:
            data["late_ms"] = round((now - offer.expires_at).total_seconds() * 1000, 1)
            kind = EventKind.OFFER_EXPIRED
        else:
            kind = EventKind.OFFER_WITHDRAWN
        recorded.append(Event(kind, session, offer.agent_id, data, offer=offer))
    events.record(*recorded)


def requeue_locked(sessions: list[ChatSession]) -> None:
    """Locked sessions go back to the queue; routing is tried for them at once, oldest first.

    Only if the routing lock is free: this transaction holds session locks, and a router that
    waits while holding them stalls everyone who wants those sessions. Otherwise they wait in
    the queue until this commits, and the drain after it routes them (that drain says routing
    is wanted: before the commit, a router could see neither these sessions nor the room
    their offers free).
    """
    sessions = sorted(sessions, key=lambda s: (s.created_at, s.pk))
    for session in sessions:
        session.state = SessionState.QUEUED
    cfg = try_lock_routing()
    routed: set = set()
    if cfg is not None:
        routed = {s.pk for s in route_locked(sessions, Pool.load_locked(cfg), timezone.now())}
    waiting = [s.pk for s in sessions if s.pk not in routed]
    if waiting:
        # Written once: routed ones were saved by route_locked with their new state.
        ChatSession.objects.filter(pk__in=waiting).update(state=SessionState.QUEUED)
    # After commit, in this order: route who waits (and into the slots the offers freed),
    # record why any still wait if no router looked at them here, tell them their place.
    after_commit(queue_drain)
    if waiting and cfg is None:
        after_commit(audit_requeued, waiting)
    if waiting:
        events.record(Event(EventKind.QUEUE_MOVED))
