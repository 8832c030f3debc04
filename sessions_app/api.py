"""REST views for chat sessions, their messages, accept/end, and the health check."""

import enum
import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.models import Agent

from . import selectors, services
from .api_support import (
    CustomerMessageThrottle,
    CustomerTokenAuthentication,
    IsUserOrCustomer,
    Pagination,
    SessionCreateThrottle,
    StrictSerializer,
    TextField,
    customer_credential,
    error_responses,
    throttle_or_raise,
)
from .errors import Conflict, NotFound
from .models import ChatSession, EndReason, Offer, Sender, SessionState

log = logging.getLogger(__name__)

# Order matters: a customer header wins over a browser's session cookie (no CSRF for customers),
# and the first class names the 401 challenge (`WWW-Authenticate: Token`).
SESSION_AUTH = [TokenAuthentication, CustomerTokenAuthentication, SessionAuthentication]


# --- representations, for the schema (the views return selectors' dicts) ------------------------


class SessionAgentSerializer(serializers.Serializer):
    id = serializers.CharField()
    display_name = serializers.CharField()


class OfferSerializer(serializers.Serializer):
    id = serializers.CharField()
    agent_id = serializers.CharField()
    expires_at = serializers.DateTimeField()


class SessionSerializer(serializers.Serializer):
    """The Session representation."""

    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=SessionState.values)
    customer_name = serializers.CharField()
    agent = SessionAgentSerializer(allow_null=True, help_text="Set while active and once ended.")
    created_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    end_reason = serializers.ChoiceField(choices=EndReason.values, allow_null=True)
    last_activity_at = serializers.DateTimeField(help_text="Extension: the latest change.")
    queue_position = serializers.IntegerField(
        required=False, min_value=1, help_text="1-based; only while queued."
    )
    offer = OfferSerializer(required=False, help_text="Only while offered.")


class SessionCreatedSerializer(SessionSerializer):
    customer_token = serializers.CharField(
        help_text="The customer's secret for X-Customer-Token; returned here only."
    )


class MessageSerializer(serializers.Serializer):
    """The Message representation."""

    id = serializers.CharField()
    session_id = serializers.UUIDField()
    sender = serializers.ChoiceField(choices=Sender.values)
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


# --- request bodies ------------------------------------------------------------------------------


class SessionCreateRequest(StrictSerializer):
    """A customer opens a chat."""

    customer_name = TextField(max_length=services.MAX_NAME)
    message = TextField(
        max_length=services.MAX_BODY,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Becomes the session's first customer message.",
    )


class MessageCreateRequest(StrictSerializer):
    """A message from the customer or the serving agent."""

    body = TextField(max_length=services.MAX_BODY, help_text="1-4000 characters after trimming.")


class SessionListQuery(serializers.Serializer):
    state = serializers.ChoiceField(choices=SessionState.values, required=False)


def _parse(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- who is asking, about which session ---------------------------------------------------------


class Role(enum.Enum):
    CUSTOMER = "customer"  # holds this session's customer token
    HOLDER = "holder"  # the agent the session is (or was) with
    OFFERED = "offered"  # an agent it was offered to, not (yet) its holder
    STAFF = "staff"  # staff with no agent relation to this session


def _session_for(request, session_id: str) -> tuple[ChatSession, Role, Agent | None]:
    """The session and the caller's role in it; 404 when it is unknown or not theirs."""
    credential = customer_credential(request)
    if credential is not None:
        session = selectors.session_for_customer(session_id, credential.token)
        if session is None:
            raise NotFound("No such chat session.")
        return session, Role.CUSTOMER, None
    session = selectors.session_get(session_id)
    if session is None:
        raise NotFound("No such chat session.")
    agent = selectors.agent_for_user(request.user)
    if agent is not None and session.agent_id == agent.pk:
        return session, Role.HOLDER, agent
    offered = agent is not None and Offer.objects.filter(session=session, agent=agent).exists()
    if offered and not request.user.is_staff:
        return session, Role.OFFERED, agent
    if request.user.is_staff:
        return session, Role.STAFF, agent
    raise NotFound("No such chat session.")


SESSION_PATH = [
    OpenApiParameter("session_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
]


# --- /api/sessions/ -----------------------------------------------------------------------------


class SessionListView(APIView):
    """List sessions (agents: their own; staff: all), or open one as a customer."""

    pagination_class = Pagination

    def _creating(self) -> bool:
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        # Creating a chat is anonymous: no session cookie, so no CSRF for the customer page.
        if self._creating():
            return [TokenAuthentication()]
        return [TokenAuthentication(), SessionAuthentication()]

    def get_permissions(self):
        return [AllowAny()] if self._creating() else super().get_permissions()

    def get_throttles(self):
        return [SessionCreateThrottle()] if self._creating() else []

    @extend_schema(
        operation_id="sessions_list",
        parameters=[
            OpenApiParameter(
                "state", str, enum=SessionState.values, description="Only sessions in this state."
            )
        ],
        responses={200: SessionSerializer(many=True), **error_responses(400, 401, 403)},
        tags=["sessions"],
    )
    def get(self, request):
        query = _parse(SessionListQuery, request.query_params)
        if request.user.is_staff:
            sessions = ChatSession.objects.all()
        else:
            agent = selectors.agent_for_user(request.user)
            if agent is None:
                raise PermissionDenied("Agents and staff only.", code="not_an_agent")
            offered = Offer.objects.filter(agent=agent, outcome="").values("session_id")
            sessions = ChatSession.objects.filter(Q(agent=agent) | Q(pk__in=offered))
        if "state" in query:
            sessions = sessions.filter(state=query["state"])
        sessions = sessions.select_related("agent__user").order_by("-created_at", "pk")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(sessions, request, view=self)
        return paginator.get_paginated_response([selectors.session_dict(s) for s in page])

    @extend_schema(
        operation_id="sessions_create",
        request=SessionCreateRequest,
        responses={201: SessionCreatedSerializer, **error_responses(400, 401, 429)},
        auth=[{"tokenAuth": []}, {}],
        tags=["sessions"],
    )
    def post(self, request):
        data = _parse(SessionCreateRequest, request.data)
        session, token = services.session_create(
            customer_name=data["customer_name"], message=data.get("message")
        )
        return Response(dict(selectors.session_dict(session), customer_token=token), status=201)


class SessionDetailView(APIView):
    """One session: its agent, an agent it is offered to, staff, or its customer."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_read",
        parameters=SESSION_PATH,
        responses={200: SessionSerializer, **error_responses(401, 404)},
        tags=["sessions"],
    )
    def get(self, request, session_id: str):
        session, _, _ = _session_for(request, session_id)
        return Response(selectors.session_dict(session))


class SessionMessagesView(APIView):
    """The conversation, oldest first; customers write in any state but ended, agents in active."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_messages_list",
        parameters=SESSION_PATH,
        responses={200: MessageSerializer(many=True), **error_responses(401, 404, 409)},
        tags=["sessions"],
    )
    def get(self, request, session_id: str):
        session, role, _ = _session_for(request, session_id)
        if role == Role.OFFERED:
            raise Conflict("Accept the chat before reading it.", code="not_active")
        messages = selectors.session_messages(session)
        return Response([selectors.message_dict(m) for m in messages])

    @extend_schema(
        operation_id="sessions_messages_create",
        parameters=SESSION_PATH,
        request=MessageCreateRequest,
        responses={201: MessageSerializer, **error_responses(400, 401, 403, 404, 409, 429)},
        tags=["sessions"],
    )
    def post(self, request, session_id: str):
        session, role, agent = _session_for(request, session_id)
        if role == Role.STAFF:
            raise PermissionDenied(
                "Only the session's agent or its customer may write.", code="not_your_session"
            )
        if role == Role.CUSTOMER:
            throttle_or_raise(CustomerMessageThrottle(str(session.pk)), request, self)
        data = _parse(MessageCreateRequest, request.data)
        sender = Sender.CUSTOMER if role == Role.CUSTOMER else Sender.AGENT
        message = services.message_send(
            session_id=session.pk, sender=sender, body=data["body"], agent=agent
        )
        return Response(selectors.message_dict(message), status=201)


class SessionAcceptView(APIView):
    """The offered agent takes the session before the offer expires."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_accept",
        parameters=SESSION_PATH,
        request=None,
        responses={
            200: SessionSerializer,
            **error_responses(401, 403, 404),
            409: OpenApiResponse(
                error_responses(409)[409].response,
                description="The offer is gone: expired, withdrawn, someone else's, or the "
                "session ended (`offer_expired`, `offer_gone`, `session_ended`).",
            ),
        },
        tags=["sessions"],
    )
    def post(self, request, session_id: str):
        session, role, agent = _session_for(request, session_id)
        if role == Role.CUSTOMER:
            raise PermissionDenied("Customers cannot accept chats.", code="not_an_agent")
        if agent is None:
            raise PermissionDenied("You have no agent profile.", code="not_an_agent")
        session = services.offer_accept(session_id=session.pk, agent=agent)
        return Response(selectors.session_dict(session))


class SessionEndView(APIView):
    """End the session: by its agent, staff, or its customer."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_end",
        parameters=SESSION_PATH,
        request=None,
        responses={200: SessionSerializer, **error_responses(401, 404, 409)},
        tags=["sessions"],
    )
    def post(self, request, session_id: str):
        session, role, agent = _session_for(request, session_id)
        if role == Role.OFFERED:
            raise Conflict("Accept the chat before ending it.", code="not_active")
        reason = {
            Role.CUSTOMER: EndReason.CUSTOMER_ENDED,
            Role.HOLDER: EndReason.AGENT_ENDED,
            Role.STAFF: EndReason.STAFF_ENDED,
        }[role]
        ended = services.session_end(session_id=session.pk, reason=reason, agent=agent)
        return Response(selectors.session_dict(ended))


# --- /healthz ------------------------------------------------------------------------------------


def _database_ok() -> bool:
    pool = getattr(connection, "pool", None)
    if pool is not None:
        return _pooled_database_ok(pool)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        log.warning("healthz: database check failed", exc_info=True)
        connection.close()  # a broken connection must not serve the next request
        return False


def _pooled_database_ok(pool) -> bool:
    """A connection from the pool within a second: a dead database must not hold the check for
    the pool's whole wait (a load balancer gives up first and sees no answer at all)."""
    import psycopg

    timeout = float(getattr(settings, "HEALTHZ_DATABASE_TIMEOUT", 1.0))
    try:
        pool.open()
        with pool.connection(timeout=timeout) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        log.warning("healthz: database check failed", exc_info=True)
        return False


def _redis_ok() -> bool:
    timeout = float(getattr(settings, "HEALTHZ_REDIS_TIMEOUT", 1.0))
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        log.warning("healthz: redis check failed", exc_info=True)
        return False
    finally:
        client.close()


HEALTH = inline_serializer(
    "Health",
    {
        "database": serializers.ChoiceField(choices=["ok", "down"]),
        "redis": serializers.ChoiceField(choices=["ok", "down"]),
    },
)


class HealthView(APIView):
    """Is the database there, is Redis there: 200 when both answer, 503 naming what is down."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="healthz",
        responses={
            200: OpenApiResponse(HEALTH, description="Both answer."),
            503: OpenApiResponse(HEALTH, description="Something is down: its value is `down`."),
        },
        auth=[],
        tags=["health"],
    )
    def get(self, request):
        checks = {
            "database": "ok" if _database_ok() else "down",
            "redis": "ok" if _redis_ok() else "down",
        }
        healthy = all(value == "ok" for value in checks.values())
        return Response(checks, status=200 if healthy else 503)
