"""Routing passes: offer or assign queued sessions to the best agents, under the routing lock.

One router at a time, and nobody waits for it (see `queue_drain`). A pass is batched: routing N
sessions costs a fixed number of statements, because everyone else's routing waits for it.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents_app.models import Agent, ServiceMode
from agents_app.selectors import service_settings
from core.commit import after_commit

from .. import events, selectors
from ..events import Event
from ..models import ChatSession, EventKind, Offer, SessionState
from . import strategy
from .lock import routing_generation, routing_wanted, try_lock_routing
from .pool import ASSIGNED_NOW, Pool, agents_missed

log = logging.getLogger(__name__)

DRAIN_BATCH = 200
MAX_ROUNDS = 20


def route_locked(sessions: list[ChatSession], pool: Pool, now: datetime) -> list[ChatSession]:
    """Offer or assign locked sessions (in the given order) to the best agents of the pool.

    Returns the routed ones; the others keep their in-memory state for the caller to save.
    """
    if not sessions:
        return []
    cfg = pool.cfg
    manual = cfg.service_mode != ServiceMode.AUTO
    missed = agents_missed([s.pk for s in sessions])
    recorded: list[Event] = []
    routed = []
    for session in sessions:
        agent, decision = strategy.choose(pool, session, missed.get(session.pk, set()))
        if agent is None:
            recorded.append(Event(EventKind.ROUTING_QUEUED, session, data=decision))
            continue
        recorded.append(Event(EventKind.ROUTING_CHOSEN, session, agent.pk, decision))
        agent.rank = ASSIGNED_NOW
        session.last_activity_at = now
        if manual:
            session.state = SessionState.OFFERED
        else:
            session.state = SessionState.ACTIVE
            session.agent_id = agent.pk
            session.accepted_at = now
            recorded.append(Event(EventKind.SESSION_ASSIGNED, session, agent.pk))
        routed.append((session, agent))
    if routed:
        _write_routed(routed, now, manual, cfg, recorded)
    events.record(*recorded)
    return [session for session, _ in routed]


def _write_routed(routed: list, now: datetime, manual: bool, cfg, recorded: list) -> None:
    """The pass's writes in a fixed number of statements, however many sessions it routed."""
    Agent.objects.filter(pk__in={agent.pk for _, agent in routed}).update(last_assigned_at=now)
    fields = ["state", "last_activity_at"] + ([] if manual else ["agent", "accepted_at"])
    ChatSession.objects.bulk_update([session for session, _ in routed], fields)
    if not manual:
        return
    timeout = cfg.accept_timeout_seconds
    offers = Offer.objects.bulk_create(
        [
            Offer(
                session=session,
                agent_id=agent.pk,
                expires_at=now + timedelta(seconds=timeout),
                timeout_seconds=timeout,
            )
            for session, agent in routed
        ]
    )
    firsts = selectors.first_customer_messages([s.pk for s, _ in routed])
    for offer in offers:
        offer.session.offer_made = offer  # the session's representation needs no query for it
        recorded.append(
            Event(
                EventKind.OFFER_MADE,
                offer.session,
                offer.agent_id,
                {"offer_id": offer.pk, "expires_at": selectors.iso(offer.expires_at)},
                offer=offer,
                first_message=firsts.get(offer.session_id),
            )
        )


def audit_queued(*sessions: ChatSession) -> None:
    """Record why sessions wait: no agent was free for them (read without locks)."""
    pool = Pool.load_locked(service_settings())
    missed = agents_missed([s.pk for s in sessions])
    waiting = []
    for session in sessions:
        eligible, decision = pool.eligible(session, missed.get(session.pk, set()))
        if not eligible:
            waiting.append(Event(EventKind.ROUTING_QUEUED, session, data=decision))
    events.record(*waiting)


def audit_requeued(session_ids: list) -> None:
    """After the drain: those of the requeued sessions that still wait, and why."""
    waiting = list(ChatSession.objects.filter(pk__in=session_ids, state=SessionState.QUEUED))
    if waiting:
        audit_queued(*waiting)


@dataclass
class Drained:
    routed: int = 0
    held_lock: bool = False  # this call held the routing lock for at least one pass
    watched: ChatSession | None = None  # the watched session, if this call routed it


def queue_drain(*, max_rounds: int = MAX_ROUNDS) -> int:
    """Route queued sessions, oldest first, while any eligible agent has room. Returns how many.

    One router at a time, and nobody waits for it. Whoever finds the routing lock taken leaves
    at once: it has bumped the routing generation first, and the holder looks again after each
    pass if the generation moved, so what was queued or freed meanwhile is routed by the
    holder. (Waiting for the lock instead made a convoy under load: every create, end and
    expiry queued behind one holder, each holding a connection and a thread.)
    """
    return drain(max_rounds=max_rounds).routed


def drain(*, max_rounds: int = MAX_ROUNDS, queued: bool = False, watch=None) -> Drained:
    """queue_drain, saying also whether this call routed, and the `watch`ed session if it did.

    `queued`: the caller has just queued a session, so there is no need to look first.
    """
    found = Drained()
    # Every insert into the queue is followed by a drain, so a miss here is never lost.
    if not queued and not selectors.queued_sessions().exists():
        return found
    routing_wanted()
    for _ in range(max_rounds):
        outcome = _drain_once()
        if outcome is None:
            return found  # someone else routes, and will look again
        found.held_lock = True
        routed, generation, retry = outcome
        found.routed += len(routed)
        if watch is not None and found.watched is None:
            found.watched = next((s for s in routed if s.pk == watch), None)
        if not retry and routing_generation() == generation:
            return found
    # Still more to do: a worker carries on, so the request that got here can answer. Sent by
    # name: the tasks module sits above this one.
    current_app.send_task("sessions_app.tasks.queue_drain_task", queue=settings.CELERY_TIMER_QUEUE)
    return found


def drain_after_commit() -> None:
    """Route once the current transaction commits (a slot freed, a session queued)."""
    after_commit(queue_drain)


def _drain_once() -> tuple[list[ChatSession], int, bool] | None:
    """One routing pass under the routing lock: (routed, generation seen, retry at once)."""
    with transaction.atomic():
        cfg = try_lock_routing()
        if cfg is None:
            return None
        generation = routing_generation()
        pool = Pool.load_locked(cfg)
        slots = pool.free_slots()
        if slots == 0:
            return [], generation, False
        # After the routing lock, sessions are taken only with SKIP LOCKED: no waiting, no
        # deadlock. A session someone else holds is retried in the next round.
        batch = list(
            ChatSession.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=SessionState.QUEUED)
            .order_by("created_at", "pk")[: min(slots, DRAIN_BATCH)]
        )
        routed = route_locked(batch, pool, timezone.now())
        # Room left and sessions still queued (past a full batch, or held by someone when we
        # looked, as a customer writing): go again. Any queued session fits any free room.
        room = pool.free_slots() > 0
        waiting = bool(routed or room) and selectors.queued_sessions().exists()
        if routed and waiting:  # the line moved up: tell those still in it
            events.record(Event(EventKind.QUEUE_MOVED))
        return routed, generation, room and waiting
