"""The strategy: which of the eligible agents gets a session.

Best (lowest) priority in the session's group first, overflow members after every member of
the group itself; then the least loaded; then the least recently assigned; then the lower id.
A new ranking rule is a change to `rank` alone.
"""

from ..models import ChatSession
from .pool import Candidate, Pool


def rank(agent: Candidate) -> tuple:
    """Lower wins."""
    return (agent.overflow_only, agent.priority, agent.load, agent.rank, agent.pk)


def choose(pool: Pool, session: ChatSession, missed: set[int]) -> tuple[Candidate | None, dict]:
    """The agent this session goes to (its load counted at once), or None; and the decision
    to record: the group, and who was skipped and why."""
    eligible, decision = pool.eligible(session, missed)
    if not eligible:
        return None, decision
    chosen = min(eligible, key=rank)
    chosen.take()
    return chosen, decision
