"""Routing passes: offer or assign a group's queued sessions to its best agents.

One router per group at a time, and nobody waits for it (see `drain`). A pass is batched:
routing N sessions costs a fixed number of statements, because the group's other routing waits
for it. Sessions of different groups route in parallel.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents_app.models import Agent, ServiceMode
from agents_app.selectors import service_settings
from core.commit import after_commit
from skills_app.models import SkillGroup
from skills_app.selectors import groups_to_wake

from .. import events, selectors
from ..events import Event
from ..models import ChatSession, EventKind, Offer, SessionState
from . import strategy
from .lock import LockedGroup, routing_generation, routing_wanted, try_lock_group
from .pool import ASSIGNED_NOW, Pool, agents_missed

log = logging.getLogger(__name__)

DRAIN_BATCH = 200
MAX_ROUNDS = 20


def route_locked(sessions: list[ChatSession], pool: Pool, now: datetime) -> list[ChatSession]:
    """Offer or assign locked sessions (in the given order) to the best agents of the pool.

    Returns the routed ones, written; the others are left as they are, queued.
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


# --- one pass, under a group's lock -----------------------------------------------------------


@dataclass
class Pass:
    routed: list
    retry: bool  # room left and sessions that may take it still queued: go again at once
    looked_at: frozenset = frozenset()  # the sessions routing decided on (queued or not)


def _lock_queue(group_id: int, limit: int, *, overflowed: bool = False) -> list[ChatSession]:
    """The group's queue head, locked with SKIP LOCKED: after the group's lock, sessions are
    never waited for (no deadlock). A session someone else holds is left for the next pass."""
    queued = ChatSession.objects.select_for_update(skip_locked=True, of=("self",)).filter(
        skill_group_id=group_id, state=SessionState.QUEUED
    )
    if overflowed:
        queued = queued.filter(overflowed_at__isnull=False)
    return list(queued.order_by("created_at", "pk")[:limit])


def pass_locked(locked: LockedGroup, *, now: datetime | None = None) -> Pass:
    """Route the group's queue, oldest first, into whatever room its pool has."""
    now = now or timezone.now()
    group_id = locked.pk
    queued = selectors.queued_in_group(group_id)
    overflow = locked.overflow_group_id
    if overflow is not None and not queued.filter(overflowed_at__isnull=False).exists():
        overflow = None  # no session of it may go there yet: leave that group's agents alone
    pool = Pool.load(
        service_settings(), group_id, group_name=locked.name, overflow_group_id=overflow
    )
    home, total = pool.home_room(), pool.free_slots()
    if total == 0:
        return Pass([], False)
    batch = {s.pk: s for s in _lock_queue(group_id, min(total, DRAIN_BATCH))} if home else {}
    if total > home:  # room that only sessions past their overflow moment may take
        extra = _lock_queue(group_id, min(total - home, DRAIN_BATCH), overflowed=True)
        batch.update({s.pk: s for s in extra if s.pk not in batch})
    ordered = sorted(batch.values(), key=lambda s: (s.created_at, s.pk))
    group = SkillGroup(pk=group_id, name=locked.name)
    for session in ordered:
        session.skill_group = group  # its representation needs no query for the name
    routed = route_locked(ordered, pool, now)
    # Room left, and sessions that could take it still queued (past the batch, or held by
    # someone when we looked, as a customer writing): go again.
    home, total = pool.home_room(), pool.free_slots()
    others = queued.exclude(pk__in=list(batch))
    retry = bool(home and others.exists()) or bool(
        total > home and others.filter(overflowed_at__isnull=False).exists()
    )
    if routed and queued.exists():  # the line moved up: tell those still in it
        events.record(Event(EventKind.QUEUE_MOVED, data={"group": group_id}))
    return Pass(routed, retry, frozenset(batch))


def route_now(group_id: int) -> tuple[int, Pass] | None:
    """In the caller's transaction: one pass if the group's lock is free, else None.

    Returns the generation seen with the lock and the pass. The caller, after its commit,
    drains again if the pass asked to or the generation moved meanwhile (`drain_after`).
    """
    locked = try_lock_group(group_id)
    if locked is None:
        return None
    return locked.generation, pass_locked(locked)


def drain_after(group_id: int, attempt: tuple[int, Pass] | None) -> "Drained":
    """After a commit that queued a session (and perhaps routed in the same transaction)."""
    if attempt is None:
        return drain(group_id, queued=True)  # someone held the lock: say we want routing
    generation, done = attempt
    found = Drained(routed=len(done.routed), held_lock=True)
    if done.retry or routing_generation(group_id) != generation:
        more = drain(group_id, queued=True)
        found.routed += more.routed
    return found


# --- the drain: passes until nothing is left, nobody waiting for the lock ---------------------


@dataclass
class Drained:
    routed: int = 0
    held_lock: bool = False  # this call held the group's lock for at least one pass
    watched: ChatSession | None = None  # the watched session, if this call routed it


def drain(
    group_id: int, *, max_rounds: int = MAX_ROUNDS, queued: bool = False, watch=None
) -> Drained:
    """Route a group's queued sessions, oldest first, while any eligible agent has room.

    Whoever finds the group's lock taken leaves at once: it has bumped the group's routing
    generation first, and the holder looks again after each pass if the generation moved, so
    what was queued or freed meanwhile is routed by the holder. (Waiting for the lock instead
    made a convoy under load: every create, end and expiry queued behind one holder, each
    holding a connection and a thread.) `queued`: the caller has just queued a session, so
    there is no need to look first.
    """
    found = Drained()
    # Every insert into a queue is followed by a drain, so a miss here is never lost.
    if not queued and not selectors.queued_in_group(group_id).exists():
        return found
    routing_wanted([group_id])
    for _ in range(max_rounds):
        with transaction.atomic():
            locked = try_lock_group(group_id)
            if locked is None:
                return found  # someone else routes, and will look again
            done = pass_locked(locked)
        found.held_lock = True
        found.routed += len(done.routed)
        if watch is not None and found.watched is None:
            found.watched = next((s for s in done.routed if s.pk == watch), None)
        if not done.retry and routing_generation(group_id) == locked.generation:
            return found
    # Still more to do: a worker carries on, so the request that got here can answer. Sent by
    # name: the tasks module sits above this one.
    current_app.send_task(
        "sessions_app.tasks.queue_drain_task", args=[group_id], queue=settings.CELERY_TIMER_QUEUE
    )
    return found


def drain_groups(group_ids: Iterable[int]) -> int:
    """Drain each group in turn. Returns how many sessions were routed."""
    return sum(drain(group_id).routed for group_id in sorted(set(group_ids)))


def queue_drain() -> int:
    """Drain every group that has a session waiting (the sweep; a desk-wide change)."""
    return drain_groups(selectors.groups_with_queue())


def drain_after_commit(*, agent_ids: Iterable[int] = (), group_ids: Iterable[int] = ()) -> None:
    """Once the current transaction commits, drain the groups where room was freed (by these
    agents) or sessions were queued (in these groups), and those overflowing into them."""
    agent_ids, group_ids = list(agent_ids), list(group_ids)
    if agent_ids or group_ids:
        after_commit(_drain_woken, agent_ids, group_ids)


def _drain_woken(agent_ids: list, group_ids: list) -> None:
    drain_groups(groups_to_wake(agent_ids=agent_ids, group_ids=group_ids))


# --- why a session waits ------------------------------------------------------------------------


def audit_queued(*sessions: ChatSession) -> None:
    """Record why sessions wait: no agent of theirs was free (read without locks)."""
    cfg = service_settings()
    waiting = []
    by_group: dict = {}
    for session in sessions:
        by_group.setdefault(session.skill_group_id, []).append(session)
    for group_id, members in by_group.items():
        if group_id is None:
            continue
        row = SkillGroup.objects.filter(pk=group_id).values_list("name", "overflow_group_id")
        row = row.first()
        if row is None:
            continue
        name, overflow = row  # its members are listed as not (yet) eligible, or as eligible
        pool = Pool.load(cfg, group_id, group_name=name, overflow_group_id=overflow, lock=False)
        missed = agents_missed([s.pk for s in members])
        for session in members:
            eligible, decision = pool.eligible(session, missed.get(session.pk, set()))
            if not eligible:
                waiting.append(Event(EventKind.ROUTING_QUEUED, session, data=decision))
    events.record(*waiting)


def audit_requeued(session_ids: list) -> None:
    """After the drain: those of the requeued sessions that still wait, and why."""
    waiting = list(ChatSession.objects.filter(pk__in=session_ids, state=SessionState.QUEUED))
    if waiting:
        audit_queued(*waiting)
