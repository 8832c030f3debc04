"""Admin for agents and the service-settings singleton; changes go through actions."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from .actions.agents import agent_profile_create, agent_update
from .actions.settings import service_settings_get, service_settings_update
from .actions.status import agent_set_status
from .models import Agent, ServiceSettings
from .selectors import agent_load, agents_with_load


@admin.register(ServiceSettings)
class ServiceSettingsAdmin(admin.ModelAdmin):
    """A single page: the list and add views lead straight to the one row."""

    fieldsets = [
        (
            "Service",
            {"fields": ["service_mode", "accept_timeout_seconds", "missed_offers_before_away"]},
        ),
        ("Idle end", {"fields": ["customer_idle_timeout_seconds", "idle_end_notice"]}),
        ("Transfer", {"fields": ["transfer_notice"]}),
        (
            "Satisfaction rating",
            {"fields": ["rating_enabled", "rating_scale", "rating_window_seconds"]},
        ),
        ("Capacity and presence", {"fields": ["default_max_sessions", "presence_grace_seconds"]}),
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        obj = service_settings_get()
        return HttpResponseRedirect(
            reverse("admin:agents_app_servicesettings_change", args=[obj.pk])
        )

    def save_model(self, request, obj, form, change):
        service_settings_update(**{name: form.cleaned_data[name] for name in form.changed_data})


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "user",
        "status",
        "status_reason",
        "groups",
        "load",
        "max_sessions",
        "last_assigned_at",
    ]
    list_filter = ["status"]
    search_fields = ["display_name", "user__username"]
    readonly_fields = ["last_assigned_at", "status_changed_at", "created_at"]
    fields = ["user", "display_name", "status", "status_reason", "max_sessions", *readonly_fields]
    actions = ["set_online", "set_away", "set_offline"]

    def get_queryset(self, request):
        return agents_with_load(super().get_queryset(request))

    @admin.display(description="load")
    def load(self, obj):
        return agent_load(obj)

    @admin.display(description="skill groups")
    def groups(self, obj):
        return ", ".join(f"{m.group.name} ({m.priority})" for m in obj.memberships.all())

    def save_model(self, request, obj, form, change):
        if not change:
            # A new profile starts offline whatever the form says: nothing routes to it yet.
            created = agent_profile_create(
                user=obj.user, display_name=obj.display_name, max_sessions=obj.max_sessions
            )
            obj.pk = created.pk
            if obj.status != created.status:
                agent_set_status(agent_id=created.pk, status=obj.status, reason=obj.status_reason)
            return
        changed = set(form.changed_data)
        if changed & {"display_name", "max_sessions"}:
            agent_update(
                agent_id=obj.pk,
                display_name=obj.display_name,
                max_sessions=obj.max_sessions,
            )
        if changed & {"status", "status_reason"}:
            agent_set_status(agent_id=obj.pk, status=obj.status, reason=obj.status_reason)

    def _set_status(self, request, queryset, status):
        for agent in queryset:
            agent_set_status(agent_id=agent.pk, status=status)
        self.message_user(request, f"{queryset.count()} agent(s) set {status}.")

    @admin.action(description="Set selected agents online")
    def set_online(self, request, queryset):
        self._set_status(request, queryset, "online")

    @admin.action(description="Set selected agents away")
    def set_away(self, request, queryset):
        self._set_status(request, queryset, "away")

    @admin.action(description="Set selected agents offline")
    def set_offline(self, request, queryset):
        self._set_status(request, queryset, "offline")
