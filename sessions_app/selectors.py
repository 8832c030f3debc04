"""Reads shared by services, the API, consumers and admin, and the JSON representations."""

from datetime import UTC, datetime
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from agents_app.models import Agent, ServiceSettings

from .models import ChatSession, Message, Offer, SessionState


def service_settings() -> ServiceSettings:
    """The settings singleton, created with defaults on first use."""
    found, _ = ServiceSettings.objects.get_or_create(pk=ServiceSettings.SINGLETON_PK)
    return found


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


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

    Routing reads the same load in plain SQL (ROUTING_CANDIDATES_SQL, below): change both.
    """
    queryset = Agent.objects.all() if queryset is None else queryset
    offers = Offer.objects.filter(agent_id=OuterRef("pk"), outcome="")
    active = ChatSession.objects.filter(agent_id=OuterRef("pk"), state=SessionState.ACTIVE)
    return queryset.select_related("user").annotate(
        offer_load=_count(offers), active_load=_count(active)
    )


def _routing_candidates_sql() -> str:
    agent, offer, session = (m._meta.db_table for m in (Agent, Offer, ChatSession))
    return f"""
        SELECT a.id, a.status, a.max_sessions,
            CASE WHEN a.status = %s THEN
                (SELECT count(*) FROM {offer} o WHERE o.agent_id = a.id AND o.outcome = '')
                + (SELECT count(*) FROM {session} s
                   WHERE s.agent_id = a.id AND s.state = '{SessionState.ACTIVE}')
            ELSE 0 END
        FROM {agent} a
        ORDER BY a.last_assigned_at ASC NULLS FIRST, a.id
    """


# Every agent, least recently assigned first: (id, status, max_sessions, load); the load
# (standing offers plus active sessions, as `agents_with_load` counts it: change both) only for
# those whose status is the parameter.
# The routing lock holder reads it for every allocation, so it is one plain statement.
ROUTING_CANDIDATES_SQL = _routing_candidates_sql()


def agent_load(agent: Agent) -> int:
    if hasattr(agent, "offer_load"):
        return agent.offer_load + agent.active_load
    offers = Offer.objects.filter(agent=agent, outcome="").count()
    active = ChatSession.objects.filter(agent=agent, state=SessionState.ACTIVE).count()
    return offers + active


def agent_capacity(agent: Agent, cfg: ServiceSettings) -> int:
    return agent.max_sessions or cfg.default_max_sessions


def agent_dict(agent: Agent) -> dict:
    return {
        "id": str(agent.pk),
        "username": agent.user.get_username(),
        "display_name": agent.name,
        "status": agent.status,
        "max_sessions": agent.max_sessions,
        "load": agent_load(agent),
    }


def queue_position(session: ChatSession) -> int | None:
    if session.state != SessionState.QUEUED:
        return None
    ahead = ChatSession.objects.filter(state=SessionState.QUEUED).filter(
        Q(created_at__lt=session.created_at) | Q(created_at=session.created_at, pk__lt=session.pk)
    )
    return ahead.count() + 1


def standing_offer(session: ChatSession) -> Offer | None:
    if session.state != SessionState.OFFERED:
        return None
    made = getattr(session, "offer_made", None)  # set by routing on the instance it offered
    if made is not None:
        return made
    return Offer.objects.filter(session=session, outcome="").first()


def offer_dict(offer: Offer) -> dict:
    return {
        "id": str(offer.pk),
        "agent_id": str(offer.agent_id),
        "expires_at": iso(offer.expires_at),
    }


def session_dict(
    session: ChatSession, *, offer: Offer | None = None, position: int | None = None
) -> dict:
    """The public Session representation of API.md. Pass what the caller already holds."""
    data = {
        "id": str(session.pk),
        "state": session.state,
        "customer_name": session.customer_name,
        "agent": None,
        "created_at": iso(session.created_at),
        "accepted_at": iso(session.accepted_at),
        "ended_at": iso(session.ended_at),
        "end_reason": session.end_reason or None,
        "last_activity_at": iso(session.last_activity_at),
    }
    if session.agent_id is not None:
        data["agent"] = {"id": str(session.agent_id), "display_name": session.agent.name}
    if session.state == SessionState.QUEUED:
        data["queue_position"] = position if position is not None else queue_position(session)
    if session.state == SessionState.OFFERED:
        offer = offer or standing_offer(session)
        if offer is not None:
            data["offer"] = offer_dict(offer)
    return data


def message_dict(message: Message) -> dict:
    return {
        "id": str(message.pk),
        "session_id": str(message.session_id),
        "sender": message.sender,
        "body": message.body,
        "created_at": iso(message.created_at),
    }


def session_get(session_id: UUID | str) -> ChatSession | None:
    try:
        return ChatSession.objects.select_related("agent__user").get(pk=session_id)
    except (ChatSession.DoesNotExist, ValueError, TypeError, ValidationError):
        return None


def session_messages(session: ChatSession) -> QuerySet:
    return Message.objects.filter(session=session).order_by("created_at", "pk")


def sessions_for_agent(agent: Agent) -> list[ChatSession]:
    """Sessions now offered to or active with this agent: what a workspace shows."""
    offered_ids = Offer.objects.filter(agent=agent, outcome="").values("session_id")
    return list(
        ChatSession.objects.select_related("agent__user")
        .filter(Q(agent=agent, state=SessionState.ACTIVE) | Q(pk__in=offered_ids))
        .order_by("-last_activity_at")
    )


def queued_sessions(limit: int | None = None) -> QuerySet:
    qs = ChatSession.objects.filter(state=SessionState.QUEUED).order_by("created_at", "pk")
    return qs[:limit] if limit else qs


def agents_missed(session: ChatSession) -> set[int]:
    """Agents who let an offer of this session expire."""
    return set(
        Offer.objects.filter(session=session, outcome="expired").values_list("agent_id", flat=True)
    )


def agents_missed_many(session_ids: list) -> dict:
    """session id -> ids of agents who let an offer of it expire (one query for many)."""
    found: dict = {}
    rows = Offer.objects.filter(session_id__in=session_ids, outcome="expired")
    for session_id, agent_id in rows.values_list("session_id", "agent_id"):
        found.setdefault(session_id, set()).add(agent_id)
    return found


def first_customer_messages(session_ids: list) -> dict:
    """session id -> body of its first customer message (one plain query, any database).

    Routing asks this for the sessions it just offered: each has a message or a few, so
    taking the first per session here is cheaper than a correlated subquery to compile.
    """
    rows = (
        Message.objects.filter(session_id__in=session_ids, sender="customer")
        .order_by("session_id", "created_at", "pk")
        .values_list("session_id", "body")
    )
    found: dict = {}
    for session_id, body in rows:
        found.setdefault(session_id, body)
    return found


def overdue_offers(now: datetime, limit: int = 500) -> list[tuple[int, UUID]]:
    """(offer id, session id) of standing offers past their deadline, oldest deadline first."""
    qs = Offer.objects.filter(outcome="", expires_at__lte=now).order_by("expires_at")
    return list(qs.values_list("pk", "session_id")[:limit])


def overdue_timer_count(now: datetime) -> int:
    """Standing offers and idle deadlines past `now`: the sweep's backlog."""
    offers = Offer.objects.filter(outcome="", expires_at__lte=now).count()
    idle = ChatSession.objects.filter(state=SessionState.ACTIVE, idle_deadline__lte=now)
    return offers + idle.count()


def overdue_idle_session_ids(now: datetime, limit: int = 500) -> list[UUID]:
    qs = ChatSession.objects.filter(state=SessionState.ACTIVE, idle_deadline__lte=now)
    return list(qs.order_by("idle_deadline").values_list("pk", flat=True)[:limit])


def session_for_customer(session_id: UUID | str, token: str | None) -> ChatSession | None:
    """The session if `token` is its customer's secret (constant-time compare), else None."""
    import hmac

    from .services import hash_token

    if not token or not isinstance(token, str):
        return None
    try:
        # The session row alone: a customer's requests mostly write (a message, an end), and
        # the agent's name is loaded only if a representation asks for it.
        session = ChatSession.objects.get(pk=session_id)
    except (ChatSession.DoesNotExist, ValueError, TypeError, ValidationError):
        return None
    if not hmac.compare_digest(session.customer_token_hash, hash_token(token)):
        return None
    return session


def agent_for_user(user) -> Agent | None:
    """The agent profile of a logged-in user, or None (anonymous, or staff without one)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Agent.objects.select_related("user").filter(user=user).first()
