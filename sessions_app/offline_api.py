"""REST for the closed desk: whether it is open now, and the messages customers leave."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.selectors import service_settings
from core.api import (
    USER_AUTH,
    IsStaff,
    OfflineMessageThrottle,
    Pagination,
    StrictSerializer,
    TextField,
    error_responses,
    parse,
    throttle_or_raise,
)
from core.hours import Hours
from core.middleware import language_of
from core.text import MAX_BODY, MAX_NAME

from .actions.offline import offline_message_create, offline_message_set_handled
from .models import OfflineMessage
from .prompts import prompt_text
from .selectors import iso


class PublicStatusSerializer(serializers.Serializer):
    open = serializers.BooleanField(help_text="Whether a chat may be opened now.")
    offline_notice = serializers.CharField(allow_null=True, help_text="Shown when closed.")
    next_open_at = serializers.DateTimeField(
        allow_null=True, help_text="When it opens next (now if open; null: hours are off)."
    )
    queue_timeout_seconds = serializers.IntegerField(
        help_text="Extension: how long a chat may wait for an agent (0: no limit)."
    )


def _language(request) -> str | None:
    return language_of(request.query_params.get("lang")) or getattr(request, "LANGUAGE_CODE", None)


class PublicStatusView(APIView):
    """Anyone: whether the desk is open now (working hours), and what to show when closed."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="public_status",
        parameters=[
            OpenApiParameter(
                "lang", str, description="Extension: the notice's language (en, zh-Hans)."
            )
        ],
        responses={200: PublicStatusSerializer},
        tags=["working hours"],
    )
    def get(self, request):
        cfg = service_settings()
        hours, now = Hours.of(cfg), timezone.now()
        next_open = hours.next_open_at(now)
        return Response(
            {
                "open": hours.is_open(now),
                "offline_notice": prompt_text(cfg, "offline_notice", _language(request)),
                "next_open_at": iso(next_open),
                "queue_timeout_seconds": cfg.queue_timeout_seconds,
            }
        )


class OfflineMessageSerializer(serializers.Serializer):
    """An offline message (responses)."""

    id = serializers.CharField()
    customer_name = serializers.CharField()
    email = serializers.EmailField()
    message = serializers.CharField()
    language = serializers.CharField()
    session_id = serializers.UUIDField(
        allow_null=True, help_text="The chat that timed out in the queue, if it came from one."
    )
    created_at = serializers.DateTimeField()
    handled = serializers.BooleanField()
    handled_at = serializers.DateTimeField(allow_null=True)


class OfflineMessageCreateRequest(StrictSerializer):
    customer_name = TextField(max_length=MAX_NAME)
    email = TextField(max_length=254)
    message = TextField(max_length=MAX_BODY)
    session_id = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Extension: the chat that timed out (with its X-Customer-Token).",
    )


class OfflineMessageUpdateRequest(StrictSerializer):
    handled = serializers.BooleanField()


class OfflineListQuery(serializers.Serializer):
    handled = serializers.BooleanField(required=False, allow_null=True, default=None)


def offline_dict(found: OfflineMessage) -> dict:
    return {
        "id": str(found.pk),
        "customer_name": found.customer_name,
        "email": found.email,
        "message": found.message,
        "language": found.language,
        "session_id": str(found.session_id) if found.session_id else None,
        "created_at": iso(found.created_at),
        "handled": found.handled,
        "handled_at": iso(found.handled_at),
    }


class OfflineMessageListView(APIView):
    """Leave a message (anyone, throttled per address) or list them (staff, newest first)."""

    pagination_class = Pagination

    def _creating(self) -> bool:
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        return [] if self._creating() else [a() for a in USER_AUTH]

    def get_permissions(self):
        return [AllowAny()] if self._creating() else [IsStaff()]

    @extend_schema(
        operation_id="offline_messages_list",
        summary="List offline messages",
        description=(
            "Staff list the messages customers left while nobody could chat, newest first; "
            "`handled` keeps the handled or the open ones."
        ),
        parameters=[
            OpenApiParameter("handled", bool, description="Only handled (true) or open (false).")
        ],
        responses={200: OfflineMessageSerializer(many=True), **error_responses(400, 401, 403)},
        tags=["working hours"],
    )
    def get(self, request):
        query = parse(OfflineListQuery, request.query_params)
        found = OfflineMessage.objects.all()
        if query.get("handled") is not None:
            found = found.filter(handled=query["handled"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(found, request)
        return paginator.get_paginated_response([offline_dict(m) for m in page])

    @extend_schema(
        operation_id="offline_messages_create",
        summary="Leave a message",
        description=(
            "Anyone leaves a message for staff while the desk is closed or after a chat timed out "
            "in the queue (`session_id` with its `X-Customer-Token` links that chat); throttled "
            "per address."
        ),
        request=OfflineMessageCreateRequest,
        responses={201: OfflineMessageSerializer, **error_responses(400, 429)},
        tags=["working hours"],
    )
    def post(self, request):
        throttle_or_raise(OfflineMessageThrottle(), request, self)
        data = parse(OfflineMessageCreateRequest, request.data)
        found = offline_message_create(
            customer_name=data["customer_name"],
            email=data["email"],
            message=data["message"],
            language=_language(request),
            session_id=data.get("session_id"),
            customer_token=request.headers.get("X-Customer-Token"),
        )
        return Response(offline_dict(found), status=201)


class OfflineMessageDetailView(APIView):
    """Staff mark a message handled (or open again)."""

    authentication_classes = USER_AUTH
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="offline_messages_update",
        request=OfflineMessageUpdateRequest,
        responses={200: OfflineMessageSerializer, **error_responses(400, 401, 403, 404)},
        tags=["working hours"],
    )
    def patch(self, request, message_id: str):
        data = parse(OfflineMessageUpdateRequest, request.data)
        found = offline_message_set_handled(
            message_id=message_id, handled=data["handled"], user=request.user
        )
        return Response(offline_dict(found))
