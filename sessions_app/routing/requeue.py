"""Offers that end without an accept (expired, declined, withdrawn), and their sessions back in
line: routed again at once where the group's lock is free, else by the drain after commit.

A transfer offer that ends so moves nothing: its session is active with the agent who asked
for the transfer, who hears why (`transfer.failed`); only the target's room is freed."""

from datetime import datetime

from django.utils import timezone

from core.commit import after_commit

from .. import events
from ..events import Event
from ..models import ChatSession, EventKind, Offer, OfferOutcome, SessionState
from .drain import DRAIN_BATCH, audit_queued, audit_requeued, drain_after_commit, pass_locked
from .lock import try_lock_group

_KINDS = {
    OfferOutcome.EXPIRED: EventKind.OFFER_EXPIRED,
    OfferOutcome.DECLINED: EventKind.OFFER_DECLINED,
    OfferOutcome.WITHDRAWN: EventKind.OFFER_WITHDRAWN,
}
# Why a transfer failed, as the first agent is told: withdrawn means its target left.
TRANSFER_REASONS = {
    OfferOutcome.EXPIRED: "expired",
    OfferOutcome.DECLINED: "declined",
    OfferOutcome.WITHDRAWN: "unavailable",
}


def lock_overdue_offers(
    now: datetime, *, exclude: set, limit: int = DRAIN_BATCH
) -> list[tuple[ChatSession, Offer]]:
    """Sessions with an overdue standing offer, locked with SKIP LOCKED (never waiting): offered
    ones, and active ones with a transfer offer."""
    overdue = Offer.objects.standing().filter(expires_at__lte=now).values("session_id")
    waiting = [SessionState.OFFERED, SessionState.ACTIVE]
    sessions = list(
        ChatSession.objects.select_for_update(skip_locked=True)
        .filter(state__in=waiting, pk__in=overdue)
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
    """Mark locked standing offers expired, declined or withdrawn, and record it (their agents
    hear of it)."""
    Offer.objects.filter(pk__in=[offer.pk for _, offer in pairs]).update(
        outcome=outcome, resolved_at=now
    )
    recorded = []
    for session, offer in pairs:
        offer.outcome, offer.resolved_at = outcome, now
        data = {"offer_id": offer.pk}
        if outcome == OfferOutcome.EXPIRED:
            data["late_ms"] = round((now - offer.expires_at).total_seconds() * 1000, 1)
        kind = _KINDS[outcome]
        if offer.is_transfer:
            kind, data["reason"] = EventKind.TRANSFER_FAILED, TRANSFER_REASONS[outcome]
            data["from_agent"] = offer.from_agent_id
        recorded.append(Event(kind, session, offer.agent_id, data, offer=offer))
    events.record(*recorded)


def requeue_locked(pairs: list[tuple[ChatSession, Offer]], *, route: bool = True) -> None:
    """The sessions of resolved offers go back to their groups' queues, oldest first.

    `route`: route them in this transaction if they are of one group whose lock is free. Never
    when the caller holds an agent's lock (a router locks agents after its group, waiting), nor
    for several groups at once (a second group's agents could not be locked in order); nor if
    a router holds the group: this transaction holds session locks, and waiting for it would
    stall everyone who wants those sessions. Whatever is not routed here is drained after the
    commit, in the groups of the sessions and of the agents whose room the offers freed.
    """
    transfers = [offer.agent_id for _, offer in pairs if offer.is_transfer]
    if transfers:
        # Nothing to route: the sessions stay with their agents; the targets have room again.
        drain_after_commit(agent_ids=transfers)
        pairs = [(session, offer) for session, offer in pairs if not offer.is_transfer]
        if not pairs:
            return
    sessions = [session for session, _ in pairs]
    ChatSession.objects.filter(pk__in=[s.pk for s in sessions]).update(state=SessionState.QUEUED)
    for session in sessions:
        session.state = SessionState.QUEUED
    groups = {s.skill_group_id for s in sessions if s.skill_group_id is not None}
    locked = try_lock_group(next(iter(groups))) if route and len(groups) == 1 else None
    if locked is not None:
        looked = pass_locked(locked, now=timezone.now()).looked_at
        # The pass found no room to look at these with: say why they wait, now.
        audit_queued(*(s for s in sessions if s.pk not in looked))
    # After commit: route who waits (and into the room the offers freed), record why any
    # still wait if no router looked at them here, tell them their place.
    drain_after_commit(agent_ids={offer.agent_id for _, offer in pairs}, group_ids=groups)
    if locked is None:
        after_commit(audit_requeued, [s.pk for s in sessions])
    events.record(*(Event(EventKind.QUEUE_MOVED, data={"group": g}) for g in sorted(groups)))
