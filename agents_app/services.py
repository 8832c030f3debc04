"""State changes of agents and of the service settings."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from sessions_app import push, selectors
from sessions_app import services as session_services
from sessions_app.errors import Conflict, Invalid
from sessions_app.locks import lock_agent, lock_routing

from .models import Agent, AgentStatus, ServiceSettings

SETTINGS_FIELDS = (
    "service_mode",
    "accept_timeout_seconds",
    "customer_idle_timeout_seconds",
    "idle_end_notice",
    "default_max_sessions",
    "presence_grace_seconds",
)


def _validation_to_invalid(exc: ValidationError) -> Invalid:
    if hasattr(exc, "error_dict"):
        name, errors = next(iter(exc.error_dict.items()))
        return Invalid(f"{name}: {' '.join(errors[0].messages)}", field=name)
    return Invalid(" ".join(exc.messages))


def agent_create(
    *,
    username: str,
    password: str,
    display_name: str = "",
    max_sessions: int | None = None,
    is_staff: bool = False,
) -> Agent:
    """A new user with an agent profile; new agents start offline."""
    if not username or not isinstance(username, str):
        raise Invalid("username is required.", field="username")
    if not password or not isinstance(password, str):
        raise Invalid("password is required.", field="password")
    User = get_user_model()
    try:
        with transaction.atomic():
            user = User(username=username, is_staff=is_staff)
            user.set_password(password)
            user.full_clean(exclude=["password"])
            user.save()
            agent = Agent(user=user, display_name=display_name or "", max_sessions=max_sessions)
            agent.full_clean(exclude=["user"])
            agent.save()
    except ValidationError as exc:
        if "username" in getattr(exc, "error_dict", {}):
            raise Conflict("That username is taken.", code="username_taken") from None
        raise _validation_to_invalid(exc) from None
    except IntegrityError:
        raise Conflict("That username is taken.", code="username_taken") from None
    return agent


def agent_profile_create(*, user, display_name: str = "", max_sessions: int | None = None) -> Agent:
    """An agent profile for an existing user (the admin's "add agent"); it starts offline."""
    if Agent.objects.filter(user=user).exists():
        raise Conflict("That user is already an agent.", code="already_agent")
    agent = Agent(user=user, display_name=display_name or "", max_sessions=max_sessions)
    try:
        agent.full_clean(exclude=["user"])
        agent.save()
    except ValidationError as exc:
        raise _validation_to_invalid(exc) from None
    except IntegrityError:
        raise Conflict("That user is already an agent.", code="already_agent") from None
    return agent


def agent_update(
    *, agent_id: int, display_name: str | None = None, max_sessions: int | None | object = ...
) -> Agent:
    """Change an agent's name or capacity; a raised capacity drains the queue."""
    with transaction.atomic():
        lock_routing()
        agent = lock_agent(agent_id)
        fields = []
        if display_name is not None:
            agent.display_name = display_name
            fields.append("display_name")
        if max_sessions is not ...:
            agent.max_sessions = max_sessions
            fields.append("max_sessions")
        try:
            agent.full_clean(exclude=["user"])
        except ValidationError as exc:
            raise _validation_to_invalid(exc) from None
        if fields:
            agent.save(update_fields=fields)
        if "max_sessions" in fields:
            transaction.on_commit(session_services.queue_drain, robust=True)
    return agent


def agent_set_status(*, agent_id: int, status: str) -> Agent:
    """Going away/offline withdraws standing offers at once; coming online drains the queue.

    Active chats stay with the agent either way.
    """
    if status not in AgentStatus.values:
        raise Invalid(f"status must be one of {', '.join(AgentStatus.values)}.", field="status")
    with transaction.atomic():
        # The routing lock first: no allocation can pick this agent while its status changes.
        lock_routing()
        agent = lock_agent(agent_id)
        previous = agent.status
        if previous != status:
            agent.status = status
            agent.status_changed_at = timezone.now()
            agent.save(update_fields=["status", "status_changed_at"])
    if previous != status:
        if status != AgentStatus.ONLINE:
            session_services.offers_withdraw_for_agent(agent_id=agent.pk)
        session_services.queue_drain()
        agent.refresh_from_db()
        push.to_agent(agent.pk, "agent.updated", agent=selectors.agent_dict(agent))
    return agent


def service_settings_update(**changes) -> ServiceSettings:
    """Change the settings; a lowered capacity takes effect for new allocations only."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise Invalid(f"Unknown setting: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    with transaction.atomic():
        cfg = lock_routing()
        for name, value in changes.items():
            setattr(cfg, name, value)
        try:
            cfg.full_clean()
        except ValidationError as exc:
            raise _validation_to_invalid(exc) from None
        cfg.save(update_fields=[*changes, "updated_at"])
        if "default_max_sessions" in changes:
            transaction.on_commit(session_services.queue_drain, robust=True)
    return cfg


def service_settings_get() -> ServiceSettings:
    return ServiceSettings.objects.get_or_create(pk=ServiceSettings.SINGLETON_PK)[0]
