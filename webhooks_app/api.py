"""REST for webhooks (staff): the endpoints, their delivery log, redeliver and ping."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    USER_AUTH,
    IsStaff,
    Pagination,
    StrictSerializer,
    TextField,
    error_responses,
    parse,
)
from sessions_app.selectors import iso

from .actions import (
    delivery_redeliver,
    webhook_create,
    webhook_delete,
    webhook_ping,
    webhook_rotate_secret,
    webhook_update,
)
from .models import EVENT_TYPES, Delivery, DeliveryStatus, Webhook

EVENTS_HELP = f'Event types ({", ".join(EVENT_TYPES)}), or ["*"] for all.'


class WebhookSerializer(serializers.Serializer):
    """A webhook (responses); `secret` only when created or rotated."""

    id = serializers.CharField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField(), help_text=EVENTS_HELP)
    is_active = serializers.BooleanField()
    description = serializers.CharField()
    secret = serializers.CharField(
        required=False, help_text="Only in the answers to create and rotate-secret."
    )
    disabled_reason = serializers.CharField(
        help_text="Extension: why the desk turned it off (50 failed deliveries in a row)."
    )


class WebhookCreateRequest(StrictSerializer):
    url = TextField(max_length=2000, help_text="http(s); a public address unless allowed.")
    events = serializers.JSONField(help_text=EVENTS_HELP)
    description = TextField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, default=True)
    secret = TextField(
        max_length=128, required=False, allow_blank=True, help_text="Absent: one is made."
    )


class WebhookUpdateRequest(StrictSerializer):
    url = TextField(max_length=2000, required=False)
    events = serializers.JSONField(required=False, help_text=EVENTS_HELP)
    description = TextField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class DeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The X-Desk-Delivery header of every attempt.")
    event_id = serializers.UUIDField()
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=DeliveryStatus.values)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)


class DeliveryQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.values, required=False)
    event_type = serializers.CharField(required=False, max_length=40)


def webhook_dict(found: Webhook, *, with_secret: bool = False) -> dict:
    data = {
        "id": str(found.pk),
        "url": found.url,
        "events": found.events,
        "is_active": found.is_active,
        "description": found.description,
        "disabled_reason": found.disabled_reason,
    }
    if with_secret:
        data["secret"] = found.secret
    return data


def delivery_dict(found: Delivery) -> dict:
    return {
        "id": str(found.pk),
        "event_id": str(found.event_id),
        "event_type": found.event_type,
        "status": found.status,
        "attempts": found.attempts,
        "last_status_code": found.last_status_code,
        "last_error": found.last_error,
        "next_attempt_at": iso(found.next_attempt_at) if found.status == "pending" else None,
        "delivered_at": iso(found.delivered_at),
    }


def _webhook_or_404(webhook_id: str) -> Webhook:
    from core.errors import NotFound

    try:
        found = Webhook.objects.filter(pk=int(webhook_id)).first()
    except (TypeError, ValueError, OverflowError):
        found = None
    if found is None:
        raise NotFound("No such webhook.")
    return found


class _Staff(APIView):
    authentication_classes = USER_AUTH
    permission_classes = [IsStaff]


class WebhookListView(_Staff):
    """Every webhook (staff): list, or create one."""

    pagination_class = Pagination

    @extend_schema(
        operation_id="webhooks_list",
        summary="List webhooks",
        description="Staff list every webhook, oldest first (without their secrets).",
        responses={200: WebhookSerializer(many=True), **error_responses(401, 403)},
        tags=["webhooks"],
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(Webhook.objects.order_by("pk"), request)
        return paginator.get_paginated_response([webhook_dict(w) for w in page])

    @extend_schema(
        operation_id="webhooks_create",
        summary="Create a webhook",
        description=(
            "Staff register a webhook for some event types (or `*`). The answer shows its signing "
            "secret: the only time it is shown."
        ),
        request=WebhookCreateRequest,
        responses={201: WebhookSerializer, **error_responses(400, 401, 403)},
        tags=["webhooks"],
    )
    def post(self, request):
        data = parse(WebhookCreateRequest, request.data)
        found = webhook_create(**data)
        return Response(webhook_dict(found, with_secret=True), status=201)


class WebhookDetailView(_Staff):
    """One webhook (staff): read, change, delete."""

    @extend_schema(
        operation_id="webhooks_read",
        summary="Read a webhook",
        description="Staff read one webhook, and why it was disabled if it was (not its secret).",
        responses={200: WebhookSerializer, **error_responses(401, 403, 404)},
        tags=["webhooks"],
    )
    def get(self, request, webhook_id: str):
        return Response(webhook_dict(_webhook_or_404(webhook_id)))

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change a webhook",
        description="Staff change a webhook's URL, events, description, or turn it on or off.",
        request=WebhookUpdateRequest,
        responses={200: WebhookSerializer, **error_responses(400, 401, 403, 404)},
        tags=["webhooks"],
    )
    def patch(self, request, webhook_id: str):
        data = parse(WebhookUpdateRequest, request.data, partial=True)
        return Response(webhook_dict(webhook_update(webhook_id=webhook_id, **data)))

    @extend_schema(
        operation_id="webhooks_delete",
        summary="Delete a webhook",
        description="Staff delete a webhook and its delivery log.",
        responses={204: None, **error_responses(401, 403, 404)},
        tags=["webhooks"],
    )
    def delete(self, request, webhook_id: str):
        webhook_delete(webhook_id=webhook_id)
        return Response(status=204)


class WebhookRotateView(_Staff):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        request=None,
        responses={200: WebhookSerializer, **error_responses(401, 403, 404)},
        tags=["webhooks"],
        description="A new secret (in the answer, once); every attempt from now on uses it.",
    )
    def post(self, request, webhook_id: str):
        found = webhook_rotate_secret(webhook_id=webhook_id)
        return Response(webhook_dict(found, with_secret=True))


class WebhookPingView(_Staff):
    @extend_schema(
        operation_id="webhooks_ping",
        request=None,
        responses={202: DeliverySerializer, **error_responses(401, 403, 404)},
        tags=["webhooks"],
        description="Sends a `ping` event now (whatever the webhook's events).",
    )
    def post(self, request, webhook_id: str):
        return Response(delivery_dict(webhook_ping(webhook_id=webhook_id)), status=202)


class DeliveryListView(_Staff):
    pagination_class = Pagination

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        parameters=[
            OpenApiParameter("status", str, enum=DeliveryStatus.values),
            OpenApiParameter("event_type", str, enum=list(EVENT_TYPES)),
        ],
        responses={200: DeliverySerializer(many=True), **error_responses(400, 401, 403, 404)},
        tags=["webhooks"],
        description="The webhook's deliveries, newest first.",
    )
    def get(self, request, webhook_id: str):
        found = _webhook_or_404(webhook_id)
        query = parse(DeliveryQuery, request.query_params)
        rows = Delivery.objects.filter(webhook=found).order_by("-created_at", "-pk")
        if "status" in query:
            rows = rows.filter(status=query["status"])
        if "event_type" in query:
            rows = rows.filter(event_type=query["event_type"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request)
        return paginator.get_paginated_response([delivery_dict(d) for d in page])


class RedeliverView(_Staff):
    @extend_schema(
        operation_id="webhooks_redeliver",
        request=None,
        responses={202: DeliverySerializer, **error_responses(401, 403, 404)},
        tags=["webhooks"],
        description="Queue the delivery again now, with the same `X-Desk-Delivery`.",
    )
    def post(self, request, webhook_id: str, delivery_id: str):
        found = delivery_redeliver(webhook_id=webhook_id, delivery_id=delivery_id)
        return Response(delivery_dict(found), status=202)
