"""Agents' profiles: create a user with a profile, give a user one, change name or capacity."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import Conflict, Invalid, NotFound, invalid_from
from sessions_app.routing.drain import drain_after_commit
from skills_app.models import DEFAULT_PRIORITY, SkillGroupMember
from skills_app.selectors import default_group

from ..locks import lock_agent
from ..models import Agent


def _join_default_group(agent: Agent) -> None:
    """Every new agent serves the default group, at the middle priority."""
    SkillGroupMember.objects.create(group=default_group(), agent=agent, priority=DEFAULT_PRIORITY)


def _validate_password(password: str, user, display_name: str) -> None:
    user.first_name = display_name or ""  # compared too, then left blank as before
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise Invalid(" ".join(exc.messages), code="weak_password", field="password") from None
    finally:
        user.first_name = ""


def agent_create(
    *,
    username: str,
    password: str,
    display_name: str = "",
    max_sessions: int | None = None,
    is_staff: bool = False,
    check_password: bool = True,
) -> Agent:
    """A new user with an agent profile, in the default group; new agents start offline.

    The password must pass the desk's validators (AUTH_PASSWORD_VALIDATORS: not too like the
    user's name, long enough, not a common one, not all digits); `check_password=False` only
    for the demo data."""
    if not username or not isinstance(username, str):
        raise Invalid("username is required.", field="username")
    if not password or not isinstance(password, str):
        raise Invalid("password is required.", field="password")
    User = get_user_model()
    try:
        with transaction.atomic():
            user = User(username=username, is_staff=is_staff)
            if check_password:
                _validate_password(password, user, display_name)
            user.set_password(password)
            user.full_clean(exclude=["password"])
            user.save()
            agent = Agent(user=user, display_name=display_name or "", max_sessions=max_sessions)
            agent.full_clean(exclude=["user"])
            agent.save()
            _join_default_group(agent)
    except ValidationError as exc:
        if "username" in getattr(exc, "error_dict", {}):
            raise Conflict("That username is taken.", code="username_taken") from None
        raise invalid_from(exc) from None
    except IntegrityError:
        raise Conflict("That username is taken.", code="username_taken") from None
    return agent


def agent_profile_create(*, user, display_name: str = "", max_sessions: int | None = None) -> Agent:
    """An agent profile for an existing user (the admin's "add agent"), in the default group;
    it starts offline."""
    if Agent.objects.filter(user=user).exists():
        raise Conflict("That user is already an agent.", code="already_agent")
    agent = Agent(user=user, display_name=display_name or "", max_sessions=max_sessions)
    try:
        agent.full_clean(exclude=["user"])
        with transaction.atomic():
            agent.save()
            _join_default_group(agent)
    except ValidationError as exc:
        raise invalid_from(exc) from None
    except IntegrityError:
        raise Conflict("That user is already an agent.", code="already_agent") from None
    return agent


def agent_update(
    *,
    agent_id: int,
    display_name: str | None = None,
    max_sessions: int | None | object = ...,
    language: str | None = None,
) -> Agent:
    """Change an agent's name, capacity or language; a raised capacity drains its groups'
    queues."""
    with transaction.atomic():
        # The agent's lock: no router counts its room while the capacity changes.
        agent = lock_agent(agent_id)
        fields = []
        if display_name is not None:
            agent.display_name = display_name
            fields.append("display_name")
        if max_sessions is not ...:
            agent.max_sessions = max_sessions
            fields.append("max_sessions")
        if language is not None:
            agent.language = language
            fields.append("language")
        try:
            agent.full_clean(exclude=["user"])
        except ValidationError as exc:
            raise invalid_from(exc) from None
        if fields:
            agent.save(update_fields=fields)
        if "max_sessions" in fields:
            drain_after_commit(agent_ids=[agent.pk])
    return agent


def agent_set_password(*, agent_id: int, password: str) -> None:
    """Staff give an agent a new password: the desk's validators apply, and the user's API
    token ends with the old password (core/tokens.py, in the same save)."""
    if not password or not isinstance(password, str):
        raise Invalid("password is required.", field="password")
    agent = Agent.objects.select_related("user").filter(pk=agent_id).first()
    if agent is None:
        raise NotFound("No such agent.")
    with transaction.atomic():
        user = agent.user
        _validate_password(password, user, agent.display_name)
        user.set_password(password)
        user.save(update_fields=["password"])
