"""Changes to skill groups: create, change (members replace the list), delete.

A group's row is also its routing lock: a change waits for a pass in flight, and the groups it
concerns are drained after the commit (new members, a new overflow, a changed capacity).
"""

from django.db import IntegrityError, transaction

from agents_app.models import Agent
from core.errors import Conflict, Invalid, NotFound
from sessions_app.routing.drain import drain_after_commit

from .models import MAX_OVERFLOW_AFTER, SkillGroup, SkillGroupMember
from .selectors import group_in_use

FIELDS = (
    "name",
    "description",
    "is_default",
    "is_public",
    "overflow_group_id",
    "overflow_after_seconds",
    "members",
)


def _lock(group_id, *, delete: bool = False) -> SkillGroup:
    """The group's row, waiting for its routing pass in flight; to delete it, also for the
    sessions being created in it (they hold KEY SHARE locks on it)."""
    try:
        return SkillGroup.objects.select_for_update(no_key=not delete).get(pk=int(group_id))
    except (SkillGroup.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound("No such skill group.") from None


def _clean_members(members) -> list[tuple[int, int]]:
    """[(agent id, priority)], each agent once, each of them an agent."""
    cleaned: dict[int, int] = {}
    for member in members:
        try:
            agent_id = int(member["agent_id"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise Invalid("Each member needs an agent_id.", field="members") from None
        priority = member.get("priority", 3)
        if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 5:
            raise Invalid("A member's priority is 1 to 5.", field="members")
        if agent_id in cleaned:
            raise Invalid(f"Agent {agent_id} is listed twice.", field="members")
        cleaned[agent_id] = priority
    known = set(Agent.objects.filter(pk__in=list(cleaned)).values_list("pk", flat=True))
    unknown = sorted(set(cleaned) - known)
    if unknown:
        raise Invalid(f"No such agent: {unknown[0]}.", field="members")
    return sorted(cleaned.items())


def _apply(group: SkillGroup, changes: dict) -> list[tuple[int, int]] | None:
    """Set the plain fields on the group; check the overflow; return the members to write."""
    for name in ("name", "description", "is_public", "overflow_after_seconds"):
        if name in changes:
            setattr(group, name, changes[name])
    if "overflow_group_id" in changes:
        target = changes["overflow_group_id"]
        if target in (None, ""):
            group.overflow_group_id = None
        else:
            try:
                target = int(target)
            except (TypeError, ValueError, OverflowError):
                raise Invalid("No such overflow group.", field="overflow_group_id") from None
            if target == group.pk:
                raise Invalid("A group cannot overflow into itself.", field="overflow_group_id")
            if not SkillGroup.objects.filter(pk=target).exists():
                raise Invalid("No such overflow group.", field="overflow_group_id")
            group.overflow_group_id = target
    if (group.overflow_group_id is None) != (group.overflow_after_seconds is None):
        raise Invalid(
            "overflow_group_id and overflow_after_seconds go together: set both, or neither.",
            field="overflow_after_seconds",
        )
    after = group.overflow_after_seconds
    if after is not None and not 0 <= after <= MAX_OVERFLOW_AFTER:
        raise Invalid(
            f"overflow_after_seconds is 0 to {MAX_OVERFLOW_AFTER}.", field="overflow_after_seconds"
        )
    name = (group.name or "").strip() if isinstance(group.name, str) else ""
    if not name or len(name) > 100:
        raise Invalid("A group's name is 1 to 100 characters.", field="name")
    group.name = name
    if len(group.description or "") > 1000:
        raise Invalid("A description is at most 1000 characters.", field="description")
    return _clean_members(changes["members"]) if "members" in changes else None


def _make_default(group: SkillGroup) -> None:
    """This group becomes the default; the one before it is a plain group again."""
    SkillGroup.objects.select_for_update().filter(is_default=True).exclude(pk=group.pk).update(
        is_default=False
    )
    group.is_default = True


def _write_members(group: SkillGroup, members: list[tuple[int, int]]) -> set[int]:
    """Replace the group's members; returns the agents whose membership changed."""
    before = dict(group.members.values_list("agent_id", "priority"))
    after = dict(members)
    SkillGroupMember.objects.filter(group=group).exclude(agent_id__in=list(after)).delete()
    for agent_id, priority in members:
        if before.get(agent_id) != priority:
            SkillGroupMember.objects.update_or_create(
                group=group, agent_id=agent_id, defaults={"priority": priority}
            )
    return {a for a in set(before) | set(after) if before.get(a) != after.get(a)}


def _save(group: SkillGroup, *, create: bool) -> None:
    try:
        with transaction.atomic():
            group.save(force_insert=create)
    except IntegrityError:
        raise Conflict("A group of that name exists already.", code="name_taken") from None


def skill_group_create(**changes) -> SkillGroup:
    """A new group; `members` as [{"agent_id", "priority"}]."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise Invalid(f"Unknown field: {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    changes.setdefault("name", "")
    with transaction.atomic():
        group = SkillGroup()
        members = _apply(group, changes)
        if changes.get("is_default"):
            _make_default(group)
        _save(group, create=True)
        if members:
            _write_members(group, members)
        drain_after_commit(group_ids=[group.pk])
    return group


def skill_group_update(*, group_id, **changes) -> SkillGroup:
    """Change a group; `members`, when given, replaces the whole list."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise Invalid(f"Unknown field: {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    with transaction.atomic():
        group = _lock(group_id)
        members = _apply(group, changes)
        if "is_default" in changes:
            if changes["is_default"]:
                _make_default(group)
            elif group.is_default:
                raise Invalid(
                    "A desk always has a default group: make another group the default instead.",
                    field="is_default",
                )
        _save(group, create=False)
        if members is not None:
            _write_members(group, members)
        drain_after_commit(group_ids=[group.pk])
    return group


def skill_group_delete(*, group_id) -> None:
    """Delete a group that is not the default and has no session waiting or being served."""
    with transaction.atomic():
        group = _lock(group_id, delete=True)
        if group.is_default:
            raise Conflict("The default group cannot be deleted.", code="group_in_use")
        if group_in_use(group):
            raise Conflict("This group has sessions waiting or being served.", code="group_in_use")
        group.delete()
