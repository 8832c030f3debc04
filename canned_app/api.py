"""REST for canned responses: staff manage the shared ones; agents their own, and read shared."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.selectors import agent_for_user
from core.api import (
    USER_AUTH,
    Pagination,
    StrictSerializer,
    TextField,
    conflict_response,
    error_responses,
    parse,
)

from .actions import canned_create, canned_delete, canned_owner, canned_update
from .selectors import canned_dict, canned_visible_to


class CannedSerializer(serializers.Serializer):
    """The CannedResponse representation (responses)."""

    id = serializers.CharField()
    shortcut = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    owner_id = serializers.CharField(allow_null=True, help_text="null: shared.")


class CannedRequest(StrictSerializer):
    shortcut = TextField(max_length=32, help_text="`[a-z0-9_-]{1,32}`, unique per owner.")
    title = TextField(max_length=100)
    body = TextField(max_length=4000, help_text="`{customer}` and `{agent}` are filled in.")


def _caller(request):
    return agent_for_user(request.user), bool(request.user.is_staff)


class CannedListView(APIView):
    """The shared canned responses and the caller's own; create one."""

    authentication_classes = USER_AUTH
    permission_classes = [IsAuthenticated]
    pagination_class = Pagination

    @extend_schema(
        operation_id="canned_responses_list",
        summary="List canned responses",
        description=(
            "The canned responses the caller may use: the shared ones and its own, by shortcut."
        ),
        responses={200: CannedSerializer(many=True), **error_responses(401)},
        tags=["canned responses"],
    )
    def get(self, request):
        agent, staff = _caller(request)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(canned_visible_to(agent, staff=staff), request)
        return paginator.get_paginated_response([canned_dict(c) for c in page])

    @extend_schema(
        operation_id="canned_responses_create",
        summary="Create a canned response",
        request=CannedRequest,
        responses={
            201: CannedSerializer,
            **error_responses(400, 401, 403),
            409: conflict_response("`shortcut_taken`: the owner has one with that shortcut."),
        },
        tags=["canned responses"],
        description="Staff create shared ones; an agent creates its own.",
    )
    def post(self, request):
        agent, staff = _caller(request)
        owner = canned_owner(agent=agent, staff=staff)
        canned = canned_create(owner=owner, **parse(CannedRequest, request.data))
        return Response(canned_dict(canned), status=201)


class CannedDetailView(APIView):
    """Change or delete one: staff a shared one, an agent its own."""

    authentication_classes = USER_AUTH
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="canned_responses_update",
        summary="Change a canned response",
        description=(
            "Change the shortcut, title or body of a canned response: staff a shared one, an "
            "agent its own (409 `shortcut_taken` if the owner has one with that shortcut)."
        ),
        request=CannedRequest(partial=True),
        responses={200: CannedSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=["canned responses"],
    )
    def patch(self, request, canned_id: str):
        agent, staff = _caller(request)
        changes = parse(CannedRequest, request.data, partial=True)
        canned = canned_update(canned_id=canned_id, agent=agent, staff=staff, **changes)
        return Response(canned_dict(canned))

    @extend_schema(
        operation_id="canned_responses_delete",
        summary="Delete a canned response",
        description="Delete a canned response: staff a shared one, an agent its own.",
        responses={204: None, **error_responses(401, 403, 404)},
        tags=["canned responses"],
    )
    def delete(self, request, canned_id: str):
        agent, staff = _caller(request)
        canned_delete(canned_id=canned_id, agent=agent, staff=staff)
        return Response(status=204)
