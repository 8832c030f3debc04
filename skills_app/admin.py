"""Admin for skill groups: members inline with their priority; changes go through actions."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from core.errors import DomainError

from .actions import skill_group_create, skill_group_delete, skill_group_update
from .models import SkillGroup, SkillGroupMember
from .selectors import group_in_use as obj_in_use


class MemberInline(admin.TabularInline):
    model = SkillGroupMember
    extra = 1
    fields = ["agent", "priority"]
    autocomplete_fields = ["agent"]


@admin.register(SkillGroup)
class SkillGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default", "is_public", "overflow_group", "overflow_after_seconds"]
    list_filter = ["is_default", "is_public"]
    search_fields = ["name"]
    fields = [
        "name",
        "description",
        "is_default",
        "is_public",
        "overflow_group",
        "overflow_after_seconds",
    ]
    # Exactly one group is the default: another becomes it through the action below.
    readonly_fields = ["is_default"]
    inlines = [MemberInline]
    actions = ["make_default"]

    def get_actions(self, request):
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # deleting goes through each group's own page
        return found

    def has_delete_permission(self, request, obj=None):
        """Not the default group, nor one with sessions waiting or being served."""
        if obj is not None and (obj.is_default or obj_in_use(obj)):
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Make the selected group the default")
    def make_default(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one group.", messages.WARNING)
            return
        group = queryset.get()
        skill_group_update(group_id=group.pk, is_default=True)
        self.message_user(request, f"{group.name} is now the default group.")

    def save_model(self, request, obj, form, change):
        """The group's own fields, through the action; its members follow in save_related."""
        editable = set(self.fields) - set(self.readonly_fields)
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in editable}
        if "overflow_group" in fields:
            group = fields.pop("overflow_group")
            fields["overflow_group_id"] = group.pk if group else None
        try:
            if change:
                saved = skill_group_update(group_id=obj.pk, **fields)
            else:
                fields.setdefault("name", obj.name)
                saved = skill_group_create(**fields)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            raise PermissionDenied(exc.detail) from None
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        """The inline rows become the group's whole member list, through the action."""
        members = []
        for formset in formsets:
            for row in formset.cleaned_data:
                if row and not row.get("DELETE") and row.get("agent") is not None:
                    members.append({"agent_id": row["agent"].pk, "priority": row["priority"]})
        try:
            skill_group_update(group_id=form.instance.pk, members=members)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)

    def delete_model(self, request, obj):
        try:
            skill_group_delete(group_id=obj.pk)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            raise PermissionDenied(exc.detail) from None
