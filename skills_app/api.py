"""REST views for skill groups (staff) and the public list customers choose from."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    USER_AUTH,
    Pagination,
    StrictSerializer,
    TextField,
    conflict_response,
    error_responses,
    parse,
)
from core.errors import NotFound
from core.roles import SupervisorReadsStaffWrites

from .actions import skill_group_create, skill_group_delete, skill_group_update
from .models import MAX_OVERFLOW_AFTER
from .selectors import group_dict, group_get, groups_with_members, public_groups


class MemberSerializer(StrictSerializer):
    agent_id = serializers.CharField(help_text="An agent's id.")
    priority = serializers.IntegerField(
        min_value=1, max_value=5, default=3, help_text="1 is offered first, 5 last."
    )


class SkillGroupSerializer(serializers.Serializer):
    """The SkillGroup representation (responses)."""

    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    is_default = serializers.BooleanField()
    is_public = serializers.BooleanField()
    overflow_group_id = serializers.CharField(allow_null=True)
    overflow_after_seconds = serializers.IntegerField(allow_null=True)
    members = MemberSerializer(many=True)


class SkillGroupRequest(StrictSerializer):
    """A group's fields; PATCH any subset (`members` replaces the whole list)."""

    name = TextField(max_length=100)
    description = TextField(max_length=1000, required=False, allow_blank=True)
    is_default = serializers.BooleanField(required=False)
    is_public = serializers.BooleanField(required=False)
    overflow_group_id = serializers.CharField(
        required=False, allow_null=True, help_text="Its members may take sessions that waited."
    )
    overflow_after_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_OVERFLOW_AFTER,
        required=False,
        allow_null=True,
        help_text="How long a session waits before the overflow group may take it.",
    )
    members = MemberSerializer(many=True, required=False)


class PublicGroupSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


def _group_or_404(group_id: str):
    group = group_get(group_id)
    if group is None:
        raise NotFound("No such skill group.")
    return group


class SkillGroupListView(APIView):
    """Every skill group (staff): list, or create one."""

    authentication_classes = USER_AUTH
    permission_classes = [SupervisorReadsStaffWrites]
    pagination_class = Pagination

    @extend_schema(
        operation_id="skill_groups_list",
        summary="List skill groups",
        description="Staff list every skill group with its members and their priorities.",
        responses={200: SkillGroupSerializer(many=True), **error_responses(401, 403)},
        tags=["skill groups"],
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(groups_with_members(), request)
        return paginator.get_paginated_response([group_dict(g) for g in page])

    @extend_schema(
        operation_id="skill_groups_create",
        summary="Create a skill group",
        description=(
            "Staff create a skill group, with its members and overflow (409: the name is taken)."
        ),
        request=SkillGroupRequest,
        responses={
            201: SkillGroupSerializer,
            **error_responses(400, 401, 403),
            409: conflict_response("The name is taken."),
        },
        tags=["skill groups"],
    )
    def post(self, request):
        group = skill_group_create(**parse(SkillGroupRequest, request.data))
        return Response(group_dict(_group_or_404(group.pk)), status=201)


class SkillGroupDetailView(APIView):
    """One skill group (staff): read, change, delete."""

    authentication_classes = USER_AUTH
    permission_classes = [SupervisorReadsStaffWrites]

    @extend_schema(
        operation_id="skill_groups_read",
        summary="Read a skill group",
        description="Staff read one skill group with its members and their priorities.",
        responses={200: SkillGroupSerializer, **error_responses(401, 403, 404)},
        tags=["skill groups"],
    )
    def get(self, request, group_id: str):
        return Response(group_dict(_group_or_404(group_id)))

    @extend_schema(
        operation_id="skill_groups_update",
        summary="Change a skill group",
        description=(
            "Staff change any subset of a group's fields; `members` replaces the whole list. "
            "Routing follows at once."
        ),
        request=SkillGroupRequest(partial=True),
        responses={200: SkillGroupSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=["skill groups"],
    )
    def patch(self, request, group_id: str):
        _group_or_404(group_id)
        changes = parse(SkillGroupRequest, request.data, partial=True)
        group = skill_group_update(group_id=group_id, **changes)
        return Response(group_dict(_group_or_404(group.pk)))

    @extend_schema(
        operation_id="skill_groups_delete",
        summary="Delete a skill group",
        description=(
            "Staff delete a group: never the default one, nor one with chats queued, offered or "
            "active (409 `group_in_use`)."
        ),
        responses={
            204: None,
            **error_responses(401, 403, 404),
            409: conflict_response(
                "`group_in_use`: the default group, or one with sessions queued, offered or active."
            ),
        },
        tags=["skill groups"],
    )
    def delete(self, request, group_id: str):
        skill_group_delete(group_id=group_id)
        return Response(status=204)


class PublicSkillGroupsView(APIView):
    """The groups a customer may choose from on the chat page (the public ones)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="public_skill_groups_list",
        responses={200: PublicGroupSerializer(many=True)},
        auth=[],
        tags=["skill groups"],
    )
    def get(self, request):
        return Response(public_groups())
