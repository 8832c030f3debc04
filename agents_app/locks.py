"""Row locks on agents: the last step of the lock order (sessions, routing, agents).

Every function here must run inside `transaction.atomic()`.
"""

from core.errors import NotFound

from .models import Agent


def lock_agent(agent_id: int) -> Agent:
    """The agent, locked, with its user (one statement).

    NO KEY UPDATE, as routers take it: offers and sessions that refer to the agent hold
    KEY SHARE locks on its row while they commit, and need not wait for this one."""
    try:
        agents = Agent.objects.select_for_update(of=("self",), no_key=True)
        return agents.select_related("user").get(pk=agent_id)
    except (Agent.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such agent.") from None
