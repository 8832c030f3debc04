"""The pool: which agents may take which sessions, and how loaded they are.

Read under the routing lock, so loads cannot change under the router; kept current in memory
while one transaction routes several sessions. Eligibility (who may take a given session, and
why each other agent may not) is decided here; which eligible agent wins is the strategy's.
"""

from dataclasses import dataclass, field

from django.db import connection

from agents_app.models import Agent, AgentStatus, ServiceSettings

from ..models import ChatSession, Offer, OfferOutcome, SessionState


@dataclass
class Candidate:
    """What routing needs of an online agent: plain values, no model instances (it is hot).

    `rank` orders agents by when they were last assigned, never first (as the database
    orders them); everyone assigned during this transaction shares the last rank, so ties go
    to the lower id, as they do once the shared `now` is written.
    """

    pk: int
    capacity: int
    rank: int
    load: int

    @property
    def room(self) -> int:
        return max(0, self.capacity - self.load)


ASSIGNED_NOW = 1 << 30  # the rank of an agent assigned in this transaction: after all others


def _candidates_sql() -> str:
    agent, offer, session = (m._meta.db_table for m in (Agent, Offer, ChatSession))
    return f"""
        SELECT a.id, a.status, a.max_sessions,
            CASE WHEN a.status = %s THEN
                (SELECT count(*) FROM {offer} o
                 WHERE o.agent_id = a.id AND o.outcome = '{OfferOutcome.STANDING}')
                + (SELECT count(*) FROM {session} s
                   WHERE s.agent_id = a.id AND s.state = '{SessionState.ACTIVE}')
            ELSE 0 END
        FROM {agent} a
        ORDER BY a.last_assigned_at ASC NULLS FIRST, a.id
    """


# Every agent, least recently assigned first: (id, status, max_sessions, load); the load
# (standing offers plus active sessions, as agents_app.selectors.agents_with_load counts it:
# change both) only for online agents. One plain statement: every allocation reads it under
# the routing lock, and the ORM's version (two annotated querysets, a datetime per agent) cost
# about a quarter of a create's CPU with 200 agents.
CANDIDATES_SQL = _candidates_sql()


@dataclass
class Pool:
    """Online agents with their loads, and who was skipped for their status."""

    cfg: ServiceSettings
    agents: list[Candidate] = field(default_factory=list)
    skipped_status: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load_locked(cls, cfg: ServiceSettings) -> "Pool":
        """Call with the routing lock held, so loads cannot change under us."""
        found = cls(cfg=cfg)
        with connection.cursor() as cursor:
            cursor.execute(CANDIDATES_SQL, [AgentStatus.ONLINE])
            rows = cursor.fetchall()
        default = cfg.default_max_sessions
        for rank, (pk, status, max_sessions, load) in enumerate(rows):
            if status == AgentStatus.ONLINE:
                found.agents.append(Candidate(pk, max_sessions or default, rank, load))
            else:
                found.skipped_status.setdefault(status, []).append(pk)
        found.agents.sort(key=lambda a: a.pk)  # decisions list agents by id
        for status, ids in found.skipped_status.items():
            found.skipped_status[status] = [str(pk) for pk in sorted(ids)]
        return found

    def free_slots(self) -> int:
        return sum(agent.room for agent in self.agents)

    def eligible(self, session: ChatSession, missed: set[int]) -> tuple[list[Candidate], dict]:
        """The agents who may take this session now, and why each other agent may not.

        Agents who missed this session (let its offer expire) are left out while anyone else
        is eligible; if they are the only ones, it goes to them again.
        """
        at_capacity, with_room = [], []
        for agent in self.agents:
            (with_room if agent.room else at_capacity).append(agent)
        fresh = [a for a in with_room if a.pk not in missed] if missed else with_room
        decision = {
            "at_capacity": [str(a.pk) for a in at_capacity],
            "away": self.skipped_status.get(AgentStatus.AWAY, []),
            "offline": self.skipped_status.get(AgentStatus.OFFLINE, []),
            "missed_this_session": [str(a.pk) for a in with_room if a.pk in missed and fresh],
            "reoffered_to_missed": bool(with_room and not fresh),
        }
        return fresh or with_room, decision


def agents_missed(session_ids: list) -> dict:
    """session id -> ids of agents who let an offer of it expire (one query for many)."""
    found: dict = {}
    rows = Offer.objects.filter(session_id__in=session_ids, outcome=OfferOutcome.EXPIRED)
    for session_id, agent_id in rows.values_list("session_id", "agent_id"):
        found.setdefault(session_id, set()).add(agent_id)
    return found
