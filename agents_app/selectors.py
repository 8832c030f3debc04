"""Reads of agents and of the service settings, and the Agent representation of the contract."""

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from sessions_app.models import ChatSession, Offer, SessionState
from skills_app.models import SkillGroup, SkillGroupMember

from .models import Agent, AgentStatus, ServiceSettings


def service_settings() -> ServiceSettings:
    """The settings singleton, created with defaults on first use."""
    found, _ = ServiceSettings.objects.get_or_create(pk=ServiceSettings.SINGLETON_PK)
    return found


def _count(qs: QuerySet) -> Subquery:
    return Coalesce(
        Subquery(
            qs.values("agent_id").annotate(n=Count("pk")).values("n")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )


def agents_with_load(queryset: QuerySet | None = None) -> QuerySet:
    """Agents annotated with `load`: standing offers plus active sessions.

    Routing reads the same load in plain SQL (sessions_app/routing/pool.py), the wallboard for
    every agent at once (`loads_by_agent`): change all three.
    """
    queryset = Agent.objects.all() if queryset is None else queryset
    offers = Offer.objects.standing().filter(agent_id=OuterRef("pk"))
    active = ChatSession.objects.filter(agent_id=OuterRef("pk"), state=SessionState.ACTIVE)
    return (
        queryset.select_related("user")
        .prefetch_related(_MEMBERSHIPS)
        .annotate(offer_load=_count(offers), active_load=_count(active))
    )


_MEMBERSHIPS = Prefetch(
    "memberships", queryset=SkillGroupMember.objects.select_related("group").order_by("group")
)


def loads_by_agent() -> dict[int, int]:
    """Every loaded agent's load (as `agents_with_load` counts it) in two grouped reads: for
    the whole floor at once, where a subquery per agent would be thousands."""
    loads: dict[int, int] = {}
    active = ChatSession.objects.filter(state=SessionState.ACTIVE)
    for rows in (active, Offer.objects.standing()):
        for agent_id, n in rows.values_list("agent_id").annotate(n=Count("pk")).order_by():
            loads[agent_id] = loads.get(agent_id, 0) + n
    return loads


def agent_load(agent: Agent) -> int:
    if hasattr(agent, "offer_load"):
        return agent.offer_load + agent.active_load
    offers = Offer.objects.standing().filter(agent=agent).count()
    active = ChatSession.objects.filter(agent=agent, state=SessionState.ACTIVE).count()
    return offers + active


def agent_capacity(agent: Agent, cfg: ServiceSettings) -> int:
    return agent.max_sessions or cfg.default_max_sessions


def agent_dict(agent: Agent) -> dict:
    """The public Agent representation of the contract."""
    memberships = agent.memberships.all()
    if "memberships" not in getattr(agent, "_prefetched_objects_cache", {}):
        memberships = memberships.select_related("group").order_by("group")
    return {
        "id": str(agent.pk),
        "username": agent.user.get_username(),
        "display_name": agent.name,
        "status": agent.status,
        "status_reason": agent.status_reason or None,
        "max_sessions": agent.max_sessions,
        "load": agent_load(agent),
        "skill_groups": [
            {"id": str(m.group_id), "name": m.group.name, "priority": m.priority}
            for m in memberships
        ],
        "language": agent.language,
    }


def agent_get(agent_id: int | str) -> Agent | None:
    """The agent with its load, or None for an unknown or malformed id."""
    try:
        return agents_with_load().get(pk=int(agent_id))
    except (Agent.DoesNotExist, ValueError, TypeError, OverflowError):
        return None


def agent_for_user(user) -> Agent | None:
    """The agent profile of a logged-in user, or None (anonymous, or staff without one)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Agent.objects.select_related("user").filter(user=user).first()


def transfer_targets(agent: Agent | None) -> dict:
    """Where an agent (or a supervisor: `None`) may transfer a chat: the other online agents
    with their load and capacity, and every skill group with how many of its online members
    (this agent aside) have room. A transfer to someone full is refused anyway; this is what
    the dialog shows."""
    cfg = service_settings()
    online = agents_with_load(Agent.objects.filter(status=AgentStatus.ONLINE))
    if agent is not None:
        online = online.exclude(pk=agent.pk)
    agents, room = [], {}
    for other in online.order_by("display_name", "pk"):
        load, capacity = agent_load(other), agent_capacity(other, cfg)
        room[other.pk] = load < capacity
        agents.append(
            {"id": str(other.pk), "display_name": other.name, "load": load, "capacity": capacity}
        )
    groups = []
    for group in SkillGroup.objects.prefetch_related("members").order_by("name"):
        members = [m.agent_id for m in group.members.all() if m.agent_id in room]
        groups.append(
            {
                "id": str(group.pk),
                "name": group.name,
                "online": len(members),
                "free": sum(1 for pk in members if room[pk]),
            }
        )
    return {"agents": agents, "groups": groups}
