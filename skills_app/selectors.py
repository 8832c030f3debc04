"""Reads of skill groups and their members; the SkillGroup representation of the contract."""

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q

from sessions_app.models import ChatSession, SessionState

from .models import DEFAULT_GROUP_NAME, SkillGroup, SkillGroupMember


def default_group() -> SkillGroup:
    """The group sessions go to when they name none; made ("General") if there is none yet."""
    found = SkillGroup.objects.filter(is_default=True).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            named = SkillGroup.objects.filter(name=DEFAULT_GROUP_NAME).first()
            if named is not None:
                named.is_default = True
                named.save(update_fields=["is_default"])
                return named
            return SkillGroup.objects.create(name=DEFAULT_GROUP_NAME, is_default=True)
    except IntegrityError:  # made meanwhile by someone else
        return SkillGroup.objects.get(is_default=True)


def group_get(group_id) -> SkillGroup | None:
    """The group with its members, or None for an unknown or malformed id."""
    try:
        return SkillGroup.objects.prefetch_related("members").get(pk=int(group_id))
    except (SkillGroup.DoesNotExist, ValueError, TypeError, OverflowError):
        return None


def groups_with_members():
    return SkillGroup.objects.prefetch_related("members").order_by("-is_default", "name", "pk")


def group_dict(group: SkillGroup) -> dict:
    """The public SkillGroup representation."""
    return {
        "id": str(group.pk),
        "name": group.name,
        "description": group.description,
        "is_default": group.is_default,
        "is_public": group.is_public,
        "overflow_group_id": str(group.overflow_group_id) if group.overflow_group_id else None,
        "overflow_after_seconds": group.overflow_after_seconds,
        "members": [
            {"agent_id": str(m.agent_id), "priority": m.priority}
            for m in sorted(group.members.all(), key=lambda m: (m.priority, m.agent_id))
        ],
    }


def group_refs(*, public_only: bool = False) -> list[dict]:
    """Every group's id and name (or the public ones'), the default first."""
    groups = SkillGroup.objects.order_by("-is_default", "name", "pk")
    if public_only:
        groups = groups.filter(is_public=True)
    return [{"id": str(pk), "name": name} for pk, name in groups.values_list("pk", "name")]


def public_groups() -> list[dict]:
    """What the customer chat page offers: the public groups, the default first."""
    return group_refs(public_only=True)


def groups_to_wake(*, agent_ids=(), group_ids=()) -> list[int]:
    """Groups whose routing may find work when these agents free room or these groups change:
    of the agents' groups and the given ones, and every group that overflows into any of them,
    those with a session waiting (one statement; a session queued after it is drained by
    whoever queued it, as every queued session is)."""
    agent_ids, group_ids = list(agent_ids), list(group_ids)
    if not agent_ids and not group_ids:
        return []
    touched = Q(pk__in=group_ids) | Q(overflow_group_id__in=group_ids)
    if agent_ids:
        theirs = SkillGroupMember.objects.filter(agent_id__in=agent_ids).values("group_id")
        touched |= Q(pk__in=theirs) | Q(overflow_group_id__in=theirs)
    waiting = ChatSession.objects.filter(skill_group=OuterRef("pk"), state=SessionState.QUEUED)
    found = SkillGroup.objects.filter(touched).filter(Exists(waiting))
    return sorted(found.values_list("pk", flat=True))


def group_in_use(group: SkillGroup) -> bool:
    """Does the group have a session waiting or being served?"""
    live = [SessionState.QUEUED, SessionState.OFFERED, SessionState.ACTIVE]
    return ChatSession.objects.filter(skill_group=group, state__in=live).exists()
