"""REST views for API tokens, the service settings and agents; every change calls a service."""

from django.conf import settings
from django.contrib.auth import authenticate, logout
from django.contrib.auth.validators import UnicodeUsernameValidator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    USER_AUTH,
    AuthTokenThrottle,
    Pagination,
    StrictSerializer,
    TextField,
    auth_token_issue,
    conflict_response,
    error_responses,
    parse,
)
from core.errors import Invalid, NotFound
from core.logins import lockout_response
from core.roles import SupervisorReadsStaffWrites
from core.tokens import revoke

from .actions.agents import agent_create, agent_set_password, agent_update
from .actions.settings import SETTINGS_FIELDS, service_settings_get, service_settings_update
from .actions.status import agent_set_status
from .models import Agent, AgentStatus, ServiceMode
from .selectors import agent_dict, agent_for_user, agent_get, agents_with_load

# --- POST /api/auth/token/ ---------------------------------------------------------------------


class TokenRequest(StrictSerializer):
    """Credentials of a staff user or an agent."""

    username = TextField(max_length=150)
    password = TextField(max_length=128, trim_whitespace=False)


class TokenResponse(serializers.Serializer):
    token = serializers.CharField()


class AuthTokenView(APIView):
    """Exchange a username and password for the user's API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthTokenThrottle]

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenRequest,
        responses={200: TokenResponse, **error_responses(400, 429)},
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        data = parse(TokenRequest, request.data)
        # Django's own request: django-axes counts the failure per account and per address on
        # it, and its middleware answers 429 once either is locked out (core/logins.py).
        django_request = request._request
        user = authenticate(django_request, username=data["username"], password=data["password"])
        if getattr(django_request, "axes_locked_out", False):
            return lockout_response(django_request)
        if user is None or not user.is_active:
            raise Invalid("Wrong username or password.", code="invalid_credentials")
        return Response({"token": auth_token_issue(user=user)})


class LogoutView(APIView):
    """End the caller's API token (and its browser session, if it has one)."""

    @extend_schema(
        operation_id="auth_logout",
        request=None,
        responses={204: None, **error_responses(401)},
        tags=["auth"],
    )
    def post(self, request):
        revoke(request.user)
        logout(request)
        return Response(status=204)


# --- /api/service-settings/ ----------------------------------------------------------------------


def _notice(help_text: str) -> serializers.CharField:
    return TextField(
        min_length=0, max_length=1000, allow_blank=True, help_text=f"{help_text} Empty: none."
    )


class ServiceSettingsSerializer(StrictSerializer):
    """The desk-wide settings; PATCH any subset."""

    service_mode = serializers.ChoiceField(choices=ServiceMode.values)
    accept_timeout_seconds = serializers.IntegerField(min_value=1, max_value=3600)
    customer_idle_timeout_seconds = serializers.IntegerField(min_value=1, max_value=604800)
    idle_end_notice = TextField(min_length=1, max_length=1000)
    default_max_sessions = serializers.IntegerField(min_value=1, max_value=100)
    missed_offers_before_away = serializers.IntegerField(
        min_value=0,
        max_value=100,
        help_text="After this many offers in a row expire unanswered, the agent is set away "
        "(`status_reason: missed_offers`); 0: never.",
    )
    presence_grace_seconds = serializers.IntegerField(
        min_value=5,
        max_value=3600,
        help_text="Extension: an online agent with no open workspace this long is set away.",
    )
    transfer_notice = TextField(
        min_length=0,
        max_length=1000,
        allow_blank=True,
        help_text="Sent to the customer when a transfer is accepted; `{agent}` and `{customer}` "
        "are filled in; empty: no message.",
    )
    rating_enabled = serializers.BooleanField(
        help_text="After a chat an agent served, the customer may rate it once."
    )
    rating_scale = serializers.ChoiceField(choices=[5, 10], help_text="The highest score.")
    rating_window_seconds = serializers.IntegerField(
        min_value=60, max_value=30 * 86400, help_text="How long after the end it may be rated."
    )
    welcome_notice = _notice("When the chat is created; `{customer}`.")
    queue_notice = _notice("When the chat has to wait (once); `{position}`, `{customer}`.")
    agent_joined_notice = _notice("When an agent starts serving; `{agent}`, `{customer}`.")
    agent_ended_notice = _notice("When the agent ends the chat; `{agent}`, `{customer}`.")
    idle_warning_notice = _notice("`idle_warning_seconds` before an idle end.")
    offline_notice = _notice("Shown instead of the chat outside working hours.")
    queue_timeout_notice = _notice("With the end when nobody served the chat in time.")
    prompt_translations = serializers.JSONField(
        help_text='Extension: prompts per language, {"zh-hans": {"welcome_notice": "..."}}; a '
        "prompt left at its default is translated by the desk."
    )
    idle_warning_seconds = serializers.IntegerField(
        min_value=0, max_value=604799, help_text="0: no warning; less than the idle timeout."
    )
    queue_timeout_seconds = serializers.IntegerField(
        min_value=0, max_value=7 * 86400, help_text="0: a chat may wait for ever."
    )
    working_hours_enabled = serializers.BooleanField()
    timezone = serializers.CharField(max_length=64, help_text="IANA name, e.g. Europe/Berlin.")
    working_hours = serializers.JSONField(
        help_text='[{"weekday": 0-6 (Monday 0), "start": "09:00", "end": "18:00"}, ...]'
    )
    holidays = serializers.JSONField(help_text='["2026-12-25", ...]')
    service_level_seconds = serializers.IntegerField(
        min_value=1,
        max_value=3600,
        help_text="The service level's target: served chats that waited at most this long.",
    )


def settings_dict(cfg) -> dict:
    return {name: getattr(cfg, name) for name in SETTINGS_FIELDS}


class ServiceSettingsView(APIView):
    """The desk-wide settings singleton (staff)."""

    authentication_classes = USER_AUTH
    permission_classes = [SupervisorReadsStaffWrites]

    @extend_schema(
        operation_id="service_settings_read",
        summary="Read the service settings",
        description=(
            "Staff read the desk-wide settings: service mode, timeouts, capacity, presence, "
            "prompts and their translations, working hours and the satisfaction rating."
        ),
        responses={200: ServiceSettingsSerializer, **error_responses(401, 403)},
        tags=["settings"],
    )
    def get(self, request):
        return Response(settings_dict(service_settings_get()))

    @extend_schema(
        operation_id="service_settings_update",
        summary="Change the service settings",
        description=(
            "Staff change any subset of the settings. Timers already running keep the timeout "
            "they started with; new offers, chats and idle periods take the new values."
        ),
        request=ServiceSettingsSerializer(partial=True),
        responses={200: ServiceSettingsSerializer, **error_responses(400, 401, 403)},
        tags=["settings"],
    )
    def patch(self, request):
        changes = parse(ServiceSettingsSerializer, request.data, partial=True)
        return Response(settings_dict(service_settings_update(**changes)))


# --- /api/agents/ --------------------------------------------------------------------------------


class AgentGroupSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    priority = serializers.IntegerField(min_value=1, max_value=5)


LANGUAGE_CODES = [code for code, _ in settings.LANGUAGES]


class AgentSerializer(serializers.Serializer):
    """The Agent representation (responses only)."""

    id = serializers.CharField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    status = serializers.ChoiceField(choices=AgentStatus.values)
    max_sessions = serializers.IntegerField(
        allow_null=True, help_text="null: the settings' default_max_sessions."
    )
    load = serializers.IntegerField(help_text="Standing offers plus active sessions.")
    status_reason = serializers.CharField(
        allow_null=True, help_text="Why away or offline (e.g. `lunch`, `missed_offers`)."
    )
    skill_groups = AgentGroupSerializer(many=True)
    language = serializers.CharField(
        help_text="Extension: the workspace's language; empty: the browser's."
    )


class AgentCreateRequest(StrictSerializer):
    """A new user with an agent profile; it starts offline."""

    username = TextField(max_length=150, validators=[UnicodeUsernameValidator()])
    password = TextField(max_length=128, trim_whitespace=False, write_only=True)
    display_name = TextField(max_length=100, required=False, allow_blank=True)
    max_sessions = serializers.IntegerField(
        min_value=1, max_value=100, required=False, allow_null=True
    )

    # The password rules (AUTH_PASSWORD_VALIDATORS, with the username and display name) are
    # checked by agent_create, the one way every agent is made: 400 `weak_password`.


def _status_reason():
    return TextField(
        max_length=100,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Why away or offline, free text; cleared when the agent comes back online.",
    )


class AgentUpdateRequest(StrictSerializer):
    """Any subset; `status` withdraws standing offers when not online; `password` (checked by
    the desk's password rules) ends the agent's API token."""

    display_name = TextField(max_length=100, required=False, allow_blank=True)
    max_sessions = serializers.IntegerField(
        min_value=1, max_value=100, required=False, allow_null=True
    )
    status = serializers.ChoiceField(choices=AgentStatus.values, required=False)
    status_reason = _status_reason()
    password = TextField(max_length=128, trim_whitespace=False, write_only=True, required=False)
    language = serializers.ChoiceField(
        choices=["", *LANGUAGE_CODES],
        required=False,
        help_text="Extension: the workspace's language (en, zh-hans; empty: the browser's).",
    )


class AgentMeUpdateRequest(StrictSerializer):
    """The calling agent sets its own status (and why, when away) or name."""

    status = serializers.ChoiceField(choices=AgentStatus.values, required=False)
    status_reason = _status_reason()
    display_name = TextField(max_length=100, required=False, allow_blank=True)
    language = serializers.ChoiceField(
        choices=["", *LANGUAGE_CODES],
        required=False,
        help_text="Extension: the workspace's language (en, zh-hans; empty: the browser's).",
    )


def _agent_change(agent: Agent, data: dict) -> dict:
    """Apply name/capacity, then status, each through its service; the fresh representation."""
    if "password" in data:
        agent_set_password(agent_id=agent.pk, password=data["password"])
    profile = {k: data[k] for k in ("display_name", "max_sessions", "language") if k in data}
    if profile:
        agent_update(agent_id=agent.pk, **profile)
    if "status" in data or "status_reason" in data:
        agent_set_status(
            agent_id=agent.pk,
            status=data.get("status", agent.status),
            reason=(data.get("status_reason") or "") if "status_reason" in data else None,
        )
    return agent_dict(agent_get(agent.pk))


def _agent_or_404(agent_id: str) -> Agent:
    agent = agent_get(agent_id)
    if agent is None:
        raise NotFound("No such agent.")
    return agent


class AgentListView(APIView):
    """Every agent (staff): list, or create a user with an agent profile."""

    authentication_classes = USER_AUTH
    permission_classes = [SupervisorReadsStaffWrites]
    pagination_class = Pagination  # also tells drf-spectacular the page shape

    @extend_schema(
        operation_id="agents_list",
        summary="List the agents",
        description=(
            "Staff list every agent, oldest first, with its status, load (standing offers plus "
            "active chats) and skill groups."
        ),
        responses={200: AgentSerializer(many=True), **error_responses(401, 403)},
        tags=["agents"],
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(agents_with_load().order_by("pk"), request)
        return paginator.get_paginated_response([agent_dict(a) for a in page])

    @extend_schema(
        operation_id="agents_create",
        summary="Create an agent",
        description=(
            "Staff create a user with an agent profile. The agent starts offline; the password "
            "must pass the desk's password rules (400 `weak_password`)."
        ),
        request=AgentCreateRequest,
        responses={
            201: AgentSerializer,
            **error_responses(400, 401, 403),
            409: conflict_response("The username is taken."),
        },
        tags=["agents"],
    )
    def post(self, request):
        data = parse(AgentCreateRequest, request.data)
        agent = agent_create(
            username=data["username"],
            password=data["password"],
            display_name=data.get("display_name", ""),
            max_sessions=data.get("max_sessions"),
        )
        return Response(agent_dict(agent_get(agent.pk)), 201)


class AgentDetailView(APIView):
    """One agent (staff): read, or change name, capacity and status."""

    authentication_classes = USER_AUTH
    permission_classes = [SupervisorReadsStaffWrites]

    @extend_schema(
        operation_id="agents_read",
        summary="Read an agent",
        description="Staff read one agent, with its status, load and skill groups.",
        responses={200: AgentSerializer, **error_responses(401, 403, 404)},
        tags=["agents"],
    )
    def get(self, request, agent_id: str):
        return Response(agent_dict(_agent_or_404(agent_id)))

    @extend_schema(
        operation_id="agents_update",
        summary="Change an agent",
        description=(
            "Staff change any subset of an agent's name, capacity, language, status (with a "
            "reason) and password. Away or offline withdraws its standing offers; a new password "
            "ends its API token."
        ),
        request=AgentUpdateRequest,
        responses={200: AgentSerializer, **error_responses(400, 401, 403, 404)},
        tags=["agents"],
    )
    def patch(self, request, agent_id: str):
        agent = _agent_or_404(agent_id)
        return Response(_agent_change(agent, parse(AgentUpdateRequest, request.data)))


class AgentMeView(APIView):
    """The calling agent's own profile; PATCH sets its status (online/away/offline)."""

    authentication_classes = USER_AUTH
    permission_classes = [IsAuthenticated]

    def _me(self, request) -> Agent:
        agent = agent_for_user(request.user)
        if agent is None:
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied("You have no agent profile.", code="not_an_agent")
        return agent

    @extend_schema(
        operation_id="agents_me_read",
        summary="Read my agent profile",
        description=(
            "The calling user's own agent profile, with its status and load (403 `not_an_agent` "
            "without one)."
        ),
        responses={200: AgentSerializer, **error_responses(401, 403)},
        tags=["agents"],
    )
    def get(self, request):
        agent = self._me(request)
        return Response(agent_dict(agent_get(agent.pk)))

    @extend_schema(
        operation_id="agents_me_update",
        summary="Set my status",
        description=(
            "The calling agent sets its own status (and why, when away), display name or "
            "workspace language. Away or offline withdraws its standing offers; online, routing "
            "may offer it chats at once."
        ),
        request=AgentMeUpdateRequest,
        responses={200: AgentSerializer, **error_responses(400, 401, 403)},
        tags=["agents"],
    )
    def patch(self, request):
        agent = self._me(request)
        return Response(_agent_change(agent, parse(AgentMeUpdateRequest, request.data)))
