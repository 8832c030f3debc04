"""Routing passes: offer or assign a group's queued sessions to its best agents.

One router per group at a time, and nobody waits for it (see `drain`). A pass is batched:
routing N sessions costs a fixed number of statements, because the group's other routing waits
for it. Sessions of different groups route in parallel.
"""

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents_app.models import Agent, ServiceMode
from agents_app.selectors import service_settings
from core import sql
from core.commit import after_commit
from skills_app.models import SkillGroup
from skills_app.selectors import groups_to_wake

from .. import events, selectors
from ..events import Event
from ..models import MISSED_OUTCOMES, ChatSession, EventKind, Message, Offer, Sender, SessionState
from ..prompts import prompt_text, system_message
from . import strategy
from .lock import (
    LockedGroup,
    RoutingSettings,
    routing_generation,
    routing_wanted,
    try_lock_group,
)
from .pool import (
    ASSIGNED_NOW,
    Pool,
    agents_missed,
    confirm,
    lock_chosen,
)

log = logging.getLogger(__name__)

DRAIN_BATCH = 200
MAX_ROUNDS = 20


@dataclass
class Newcomer:
    """A session being created, not yet written: routing decides its state before its row is
    inserted, so a new chat costs one insert and no update. Its first message and the events
    of its creation are written with it, in the same statements as the pass's own."""

    session: ChatSession
    message: Message | None
    recorded: list[Event]
    welcome: Message | None = None  # the welcome notice, after the customer's first message

    def __post_init__(self) -> None:
        self.session.missed = set()
        self.session.first_message = self.message.body if self.message else None


def write_newcomer(newcomer: Newcomer) -> None:
    """Insert the new session (in the state routing left it) and its first message."""
    sql.insert([newcomer.session])
    messages = [m for m in (newcomer.message, newcomer.welcome) if m is not None]
    if messages:
        # Nobody listens yet (the customer's socket opens after this): no push, no ids.
        sql.insert(messages, returning=False)


def route_locked(
    sessions: list[ChatSession], pool: Pool, now: datetime, newcomer: Newcomer | None = None
) -> list[ChatSession]:
    """Offer or assign locked sessions (in the given order) to the best agents of the pool.

    The sessions come from `_lock_queue`, with who missed each and its first message; the
    newcomer's session, if any, is among them (last) and is written here. Returns the routed
    ones, written; the others are left as they are, queued.
    """
    if not sessions and newcomer is None:
        return []
    cfg = pool.cfg
    manual = cfg.service_mode != ServiceMode.AUTO
    recorded: list[Event] = list(newcomer.recorded) if newcomer else []
    routed = []
    for session in sessions:
        agent, decision = strategy.choose(pool, session, session.missed)
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
    # Writes from here on, as one statement in one round trip (and one round trip before, to
    # confirm the chosen agents of an unlocked pool and number the offers).
    with sql.pipeline():
        offer_ids = None
        if pool.optimistic and routed:
            adding = Counter(agent.pk for _, agent in routed)
            lock_chosen(sorted(adding))
            offers = len(routed) if manual else 0
            offer_ids = confirm(adding, cfg.default_max_sessions, offers=offers)
        with sql.writes():  # one statement (core/sql.py)
            if newcomer is not None:
                write_newcomer(newcomer)
            if routed:
                new = newcomer.session if newcomer else None
                _write_routed(routed, now, manual, cfg, recorded, inserted=new, offer_ids=offer_ids)
            events.record(*recorded)
        if routed and not manual and cfg.agent_joined_notice.strip():
            _agents_joined(routed, cfg)
    return [session for session, _ in routed]


def _agents_joined(routed: list, cfg) -> None:
    """The agent-joined notice to each session assigned in this pass (auto mode), in one
    statement (and one to read the agents' names)."""
    chosen = Agent.objects.select_related("user").filter(pk__in={a.pk for _, a in routed})
    names = {a.pk: a.name for a in chosen}
    notices = []
    for session, agent in routed:
        body = prompt_text(
            cfg,
            "agent_joined_notice",
            session.language,
            agent=names.get(agent.pk, ""),
            customer=session.customer_name,
        )
        notices.append(system_message(session, body))
    sql.insert(notices)
    events.record(*(events.message_created(m.session, m) for m in notices))


def _write_routed(
    routed: list,
    now: datetime,
    manual: bool,
    cfg,
    recorded: list,
    inserted=None,
    offer_ids: list[int] | None = None,
) -> None:
    """The pass's writes in a fixed number of statements, however many sessions it routed.
    `inserted`: a session just inserted as routed, which needs no update; `offer_ids`: ids
    allocated for the offers (else they are read back from their insert)."""
    agent_table, session_table = Agent._meta.db_table, ChatSession._meta.db_table
    agent_ids = sorted({agent.pk for _, agent in routed})
    at = sql.db_value(ChatSession, "last_activity_at", now)
    sql.execute(
        f"UPDATE {agent_table} SET last_assigned_at = %s WHERE id IN ({sql.marks(len(agent_ids))})",
        [at, *agent_ids],
    )
    updated = [(session, agent) for session, agent in routed if session is not inserted]
    ids = [sql.db_value(ChatSession, "id", session.pk) for session, _ in updated]
    if ids and manual:
        sql.execute(
            f"UPDATE {session_table} SET state = %s, last_activity_at = %s "
            f"WHERE id IN ({sql.marks(len(ids))})",
            [SessionState.OFFERED, at, *ids],
        )
    elif ids:
        # Each its own agent: one statement still, the agent picked per id.
        cases = " ".join(["WHEN %s THEN %s"] * len(ids))
        pairs = [v for (_, agent), pk in zip(updated, ids, strict=True) for v in (pk, agent.pk)]
        sql.execute(
            f"UPDATE {session_table} SET state = %s, last_activity_at = %s, accepted_at = %s, "
            f"agent_id = CASE id {cases} END WHERE id IN ({sql.marks(len(ids))})",
            [SessionState.ACTIVE, at, at, *pairs, *ids],
        )
    if not manual:
        return
    timeout = cfg.accept_timeout_seconds
    offers = [
        Offer(
            pk=offer_ids[n] if offer_ids else None,
            session=session,
            agent_id=agent.pk,
            created_at=now,
            expires_at=now + timedelta(seconds=timeout),
            timeout_seconds=timeout,
        )
        for n, (session, agent) in enumerate(routed)
    ]
    sql.insert(offers)
    for offer in offers:
        offer.session.offer_made = offer  # the session's representation needs no query for it
        recorded.append(
            Event(
                EventKind.OFFER_MADE,
                offer.session,
                offer.agent_id,
                {"offer_id": offer.pk, "expires_at": selectors.iso(offer.expires_at)},
                offer=offer,
                first_message=offer.session.first_message,
            )
        )


# --- one pass, under a group's lock -----------------------------------------------------------


@dataclass
class Pass:
    routed: list
    retry: bool  # room left and sessions that may take it still queued: go again at once
    looked_at: frozenset = frozenset()  # the sessions routing decided on (queued or not)


def _queue_sql(overflowed: bool) -> str:
    session, offer, message = (
        ChatSession._meta.db_table,
        Offer._meta.db_table,
        Message._meta.db_table,
    )
    outcomes = ", ".join(f"'{outcome}'" for outcome in MISSED_OUTCOMES)
    return f"""
        SELECT s.*,
            (SELECT {sql.list_agg("o.agent_id")} FROM {offer} o
             WHERE o.session_id = s.id AND o.outcome IN ({outcomes})) AS missed_by,
            (SELECT m.body FROM {message} m
             WHERE m.session_id = s.id AND m.sender = '{Sender.CUSTOMER}'
             ORDER BY m.created_at, m.id LIMIT 1) AS first_message
        FROM {session} s
        WHERE s.skill_group_id = %s AND s.state = '{SessionState.QUEUED}'
            {"AND s.overflowed_at IS NOT NULL" if overflowed else ""}
        ORDER BY s.created_at, s.id LIMIT %s{sql.lock_clause("FOR UPDATE OF s SKIP LOCKED")}
    """


def _lock_queue(group_id: int, limit: int, *, overflowed: bool = False) -> list[ChatSession]:
    """The group's queue head, locked with SKIP LOCKED: after the group's lock, sessions are
    never waited for (no deadlock). A session someone else holds is left for the next pass.
    Each comes with who missed it (`missed`) and its first customer message, in the same
    statement."""
    head = list(ChatSession.objects.raw(_queue_sql(overflowed), [group_id, limit]))
    for session in head:
        session.missed = sql.ids_from(session.missed_by)
    return head


def _overflowed_waiting(group_id: int) -> bool:
    session = ChatSession._meta.db_table
    found = sql.one(
        f"SELECT EXISTS (SELECT 1 FROM {session} WHERE skill_group_id = %s "
        f"AND state = '{SessionState.QUEUED}' AND overflowed_at IS NOT NULL)",
        [group_id],
    )
    return bool(found[0])


def pass_locked(
    locked: LockedGroup,
    *,
    now: datetime | None = None,
    newcomer: Newcomer | None = None,
    optimistic: bool = False,
) -> Pass:
    """Route the group's queue, oldest first, into whatever room its pool has.

    `newcomer`: a session being created in the group (not yet written): it joins the end of
    the line, and is written in the state routing gives it. `optimistic`: read the pool
    without the agents' locks and confirm the chosen ones (pool.py); raises RoutingConflict
    if one is gone, for the caller to roll back and pass again without it.
    """
    now = now or timezone.now()
    group_id = locked.pk
    overflow = locked.overflow_group_id
    if overflow is not None and not _overflowed_waiting(group_id):
        overflow = None  # no session of it may go there yet: leave that group's agents alone
    pool = Pool.load(
        locked.cfg,
        group_id,
        group_name=locked.name,
        overflow_group_id=overflow,
        optimistic=optimistic,
    )
    home, total = pool.home_room(), pool.free_slots()
    if total == 0:
        route_locked([], pool, now, newcomer)  # no room: the newcomer waits, and why is said
        return Pass([], False)
    # An empty queue (as the pool's statement counted it) needs no look: a new chat's usual case.
    waiting = pool.queued > 0
    batch = {}
    if home and waiting:
        batch = {s.pk: s for s in _lock_queue(group_id, min(total, DRAIN_BATCH))}
    if total > home and pool.overflowed:  # room only sessions past their overflow moment take
        extra = _lock_queue(group_id, min(total - home, DRAIN_BATCH), overflowed=True)
        batch.update({s.pk: s for s in extra if s.pk not in batch})
    ordered = sorted(batch.values(), key=lambda s: (s.created_at, s.pk))
    # Still waiting beyond what is in hand (past the batch, or held by someone when we
    # looked, as a customer writing), as the pool's statement counted them. One queued
    # since then was queued by a caller that drains after its commit, and so moved the
    # generation this pass's caller looks at again.
    others = max(0, pool.queued - len(ordered))
    others_overflowed = max(0, pool.overflowed - sum(1 for s in ordered if s.overflowed_at))
    group = SkillGroup(pk=group_id, name=locked.name)
    for session in ordered:
        session.skill_group = group  # its representation needs no query for the name
    if newcomer is not None and others == 0:
        ordered.append(newcomer.session)  # the whole line is in hand: it may go next
    routed = route_locked(ordered, pool, now, newcomer)
    # Room left, and sessions that could take it still waiting: go again (a newcomer left
    # behind them among those).
    home, total = pool.home_room(), pool.free_slots()
    retry = bool(home and others) or bool(total > home and others_overflowed)
    if routed and len(routed) < len(ordered) + others:  # the line moved up: tell those in it
        events.record(Event(EventKind.QUEUE_MOVED, data={"group": group_id}))
    return Pass(routed, retry, frozenset(s.pk for s in ordered))


def drain_after(group_id: int, attempt: tuple[int, Pass] | None) -> "Drained":
    """After a commit that queued a session, and perhaps routed in the same transaction:
    `attempt` is the generation seen with the group's lock and that pass (None: someone held
    the lock). Drains again if the pass asked to or the generation moved meanwhile."""
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
    cfg = RoutingSettings.of(service_settings())
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
