"""The pool: which agents may take which sessions of a group, and how loaded they are.

A group's pool is its members, and the members of its overflow group for sessions that have
waited past their overflow moment (one step only: the overflow group's own overflow never
applies). A router locks the online agents of the pool (in id order, waiting: the last step of
the lock order) before it reads their loads, so an agent in several groups is never counted
twice by two routers: whoever locks it second reads the load the first one committed. Loads
are then kept current in memory while one transaction routes several sessions.

A new chat's router may instead read the pool without locks (`optimistic`): it then locks
only the agents it chose, after choosing, and confirms in the same transaction that each is
still online and has room for what it is about to write (`confirm`). If one is not (another
router or a status change got there first), the transaction is rolled back and routed again
with the whole pool locked. Either way, an agent's room is decided by whoever holds its row
lock, on loads read after taking it.

Eligibility (who may take a given session, and why each other agent may not) is decided here;
which eligible agent wins is the strategy's.
"""

from dataclasses import dataclass, field

from django.db import connection

from agents_app.models import Agent, AgentStatus
from core import sql
from skills_app.models import SkillGroupMember

from ..models import MISSED_OUTCOMES, ChatSession, Offer, OfferOutcome, SessionState
from .lock import RoutingSettings


@dataclass(slots=True)
class Candidate:
    """What routing needs of an online agent: plain values, no model instances (it is hot).

    `rank` orders agents by when they were last assigned, never first (as the database
    orders them); everyone assigned during this transaction shares the last rank, so ties go
    to the lower id, as they do once the shared `now` is written. `priority` is the agent's in
    the session's own group; `overflow_only`: a member of the overflow group alone.
    """

    pk: int
    capacity: int
    rank: int
    load: int
    priority: int
    overflow_only: bool = False
    room: int = field(init=False)  # kept by `take`: read hundreds of times a pass

    def __post_init__(self) -> None:
        self.room = max(0, self.capacity - self.load)

    def take(self) -> None:
        """One more session or offer for this agent, counted at once."""
        self.load += 1
        self.room = max(0, self.capacity - self.load)


ASSIGNED_NOW = 1 << 30  # the rank of an agent assigned in this transaction: after all others


def _lock_sql(groups: list) -> str:
    # Driven from the groups' memberships: its cost is the pool's size, not the desk's. An
    # agent in both groups is listed twice; locking one's own lock again is free.
    agent, member = Agent._meta.db_table, SkillGroupMember._meta.db_table
    return f"""
        SELECT a.id FROM {member} m JOIN {agent} a ON a.id = m.agent_id
        WHERE m.group_id IN ({sql.marks(len(groups))}) AND a.status = %s
        ORDER BY a.id FOR NO KEY UPDATE OF a
    """


def _members_sql(groups: list) -> str:
    """Every member of the groups, least recently assigned first: (agent id, group id,
    priority, status, max_sessions, load, queued, overflowed); the load (`_load_sql`) only for
    online agents; the last two (the same on every row) count the first group's queue, and
    those in it past their overflow moment."""
    agent, member = Agent._meta.db_table, SkillGroupMember._meta.db_table
    session = ChatSession._meta.db_table
    queue = f"{session} q WHERE q.skill_group_id = %s AND q.state = '{SessionState.QUEUED}'"
    return f"""
        SELECT a.id, m.group_id, m.priority, a.status, a.max_sessions,
            CASE WHEN a.status = %s THEN {_load_sql("a")} ELSE 0 END,
            (SELECT count(*) FROM {queue}),
            (SELECT count(*) FROM {queue} AND q.overflowed_at IS NOT NULL)
        FROM {member} m JOIN {agent} a ON a.id = m.agent_id
        WHERE m.group_id IN ({sql.marks(len(groups))})
        ORDER BY a.last_assigned_at ASC NULLS FIRST, a.id
    """


class RoutingConflict(Exception):
    """An agent chosen from an unlocked read was taken or went away meanwhile: route again,
    locked."""


def _load_sql(agent_alias: str) -> str:
    """An agent's load: its standing offers plus its active sessions (as
    agents_app.selectors.agents_with_load counts it: change both)."""
    offer, session = Offer._meta.db_table, ChatSession._meta.db_table
    return f"""(SELECT count(*) FROM {offer} o
                WHERE o.agent_id = {agent_alias}.id AND o.outcome = '{OfferOutcome.STANDING}')
            + (SELECT count(*) FROM {session} s
               WHERE s.agent_id = {agent_alias}.id AND s.state = '{SessionState.ACTIVE}')"""


def lock_chosen(agent_ids: list[int]) -> None:
    """Lock the chosen agents in id order (the last step of the lock order)."""
    if agent_ids and sql.is_postgres():
        sql.rows(
            f"SELECT id FROM {Agent._meta.db_table} WHERE id IN ({sql.marks(len(agent_ids))}) "
            "ORDER BY id FOR NO KEY UPDATE",
            agent_ids,
        )


def confirm(adding: dict[int, int], default_capacity: int, *, offers: int = 0) -> list[int]:
    """For a router that read the pool unlocked and has since locked its chosen agents: the
    ids of `offers` new offers, allocated now (their rows then need no answer back), after
    checking that each chosen agent is still online and has room for what it is `adding`
    (agent id -> sessions). Read after the lock, so every commit before it is seen. Raises
    RoutingConflict if one is not. PostgreSQL only (SQLite routers never run unlocked)."""
    agent, offer = Agent._meta.db_table, Offer._meta.db_table
    ids = sorted(adding)
    taken, offer_ids = sql.one(
        f"""SELECT
            ARRAY(SELECT a.id FROM {agent} a
                  JOIN unnest(%s::bigint[], %s::int[]) AS adding(id, n) ON adding.id = a.id
                  WHERE a.status <> %s
                    OR {_load_sql("a")} + adding.n > COALESCE(a.max_sessions, %s)),
            ARRAY(SELECT nextval(pg_get_serial_sequence('{offer}', 'id'))
                  FROM generate_series(1, %s))""",
        [ids, [adding[pk] for pk in ids], AgentStatus.ONLINE, default_capacity, offers],
    )
    if taken:
        raise RoutingConflict(taken)
    return list(offer_ids)


@dataclass
class Pool:
    """A group's online members (and its overflow group's, when loaded) with their loads."""

    cfg: RoutingSettings
    group_id: int
    group_name: str = ""
    overflow_group_id: int | None = None
    agents: list[Candidate] = field(default_factory=list)
    # Members left out, by why: away, offline (of the group; of the overflow group when loaded)
    skipped_status: dict[str, list[str]] = field(default_factory=dict)
    # The group's queue as the loads were read: how many wait, and how many past overflow.
    queued: int = 0
    overflowed: int = 0
    # Read without the agents' locks: the router locks and confirms the ones it chooses.
    optimistic: bool = False

    @classmethod
    def load(
        cls,
        cfg: RoutingSettings,
        group_id: int,
        *,
        group_name: str = "",
        overflow_group_id: int | None = None,
        lock: bool = True,
        optimistic: bool = False,
    ) -> "Pool":
        """Two statements: lock the online members, then read every member with its load, and
        the length of the group's queue. Routing must hold the group's lock. Without the
        agents' locks: `lock=False` for an audit, which routes nothing; `optimistic=True` for
        a router that locks and confirms the agents it chooses (`confirm`; PostgreSQL only:
        SQLite runs one writer at a time)."""
        optimistic = optimistic and connection.vendor == "postgresql"
        lock = lock and not optimistic
        found = cls(cfg, group_id, group_name, overflow_group_id, optimistic=optimistic)
        groups = [group_id] + ([overflow_group_id] if overflow_group_id else [])
        locked = None
        with connection.cursor() as cursor:
            if lock and connection.vendor == "postgresql":
                cursor.execute(_lock_sql(groups), [*groups, AgentStatus.ONLINE])
                locked = {row[0] for row in cursor.fetchall()}
            cursor.execute(_members_sql(groups), [AgentStatus.ONLINE, group_id, group_id, *groups])
            rows = cursor.fetchall()
        default = cfg.default_max_sessions
        by_pk: dict[int, Candidate] = {}
        skipped: dict[str, set] = {}
        if rows:
            found.queued, found.overflowed = rows[0][6], rows[0][7]
        for rank, (pk, group, priority, status, max_sessions, load, *_) in enumerate(rows):
            home = group == group_id
            if status != AgentStatus.ONLINE or (locked is not None and pk not in locked):
                # Not online, or online only since the lock was taken: its own change wakes
                # routing once it commits.
                skipped.setdefault(status, set()).add(pk)
                continue
            known = by_pk.get(pk)
            if known is None:
                by_pk[pk] = Candidate(pk, max_sessions or default, rank, load, priority, not home)
            elif home:  # in both groups: a member of the session's own group first
                known.priority, known.overflow_only = priority, False
        found.agents = sorted(by_pk.values(), key=lambda a: a.pk)  # decisions list agents by id
        found.skipped_status = {s: [str(pk) for pk in sorted(ids)] for s, ids in skipped.items()}
        return found

    def free_slots(self) -> int:
        return sum(agent.room for agent in self.agents)

    def home_room(self) -> int:
        return sum(agent.room for agent in self.agents if not agent.overflow_only)

    def eligible(self, session: ChatSession, missed: set[int]) -> tuple[list[Candidate], dict]:
        """The agents who may take this session now, and why each other agent may not.

        Members of the session's group, and of the overflow group once its overflow moment
        has passed. Agents who missed this session (let its offer expire, or declined it) are
        left out while anyone else is eligible; if they are the only ones, it goes to them.
        """
        overflow = self.overflow_group_id is not None and session.overflowed_at is not None
        in_scope, not_member = [], []
        for agent in self.agents:
            (not_member if agent.overflow_only and not overflow else in_scope).append(agent)
        at_capacity = [a for a in in_scope if not a.room]
        with_room = [a for a in in_scope if a.room]
        fresh = [a for a in with_room if a.pk not in missed] if missed else with_room
        decision = {
            "group": str(self.group_id),
            "group_name": self.group_name,
            "overflow_group": str(self.overflow_group_id) if overflow else None,
            "at_capacity": [str(a.pk) for a in at_capacity],
            "away": self.skipped_status.get(AgentStatus.AWAY, []),
            "offline": self.skipped_status.get(AgentStatus.OFFLINE, []),
            "missed_this_session": [str(a.pk) for a in with_room if a.pk in missed and fresh],
            "not_a_member": [str(a.pk) for a in not_member],
            "reoffered_to_missed": bool(with_room and not fresh),
        }
        return fresh or with_room, decision


def agents_missed(session_ids: list) -> dict:
    """session id -> ids of agents who missed it (an offer expired or declined), one query."""
    found: dict = {}
    rows = Offer.objects.filter(session_id__in=session_ids, outcome__in=MISSED_OUTCOMES)
    for session_id, agent_id in rows.values_list("session_id", "agent_id"):
        found.setdefault(session_id, set()).add(agent_id)
    return found
