"""Admin for agents and the service-settings singleton; changes go through actions."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from .actions.agents import agent_profile_create, agent_update
from .actions.settings import SETTINGS_FIELDS, service_settings_get, service_settings_update
from .actions.status import agent_set_status
from .models import PROMPTS, Agent, ServiceSettings
from .selectors import agent_load, agents_with_load

OTHER_LANGUAGES = [(c, n) for c, n in settings.LANGUAGES if c != settings.LANGUAGE_CODE]


def _translated(name: str, language: str) -> str:
    return f"{name}__{language.replace('-', '_')}"


def _prompt_fields(names) -> list[str]:
    return [*names, *(_translated(n, lang) for n in names for lang, _ in OTHER_LANGUAGES)]


class _SettingsForm(forms.ModelForm):
    """The settings, plus each prompt in the desk's other languages (stored together in
    `prompt_translations`; empty: the desk's own translation of a default text)."""

    class Meta:
        model = ServiceSettings
        fields = [name for name in SETTINGS_FIELDS if name != "prompt_translations"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        saved = self.instance.prompt_translations or {}
        for language, _ in OTHER_LANGUAGES:
            for name in PROMPTS:
                field = _translated(name, language)
                if field in self.fields:
                    self.fields[field].initial = (saved.get(language) or {}).get(name, "")

    def translations(self) -> dict:
        found = {}
        for language, _ in OTHER_LANGUAGES:
            texts = {n: self.cleaned_data.get(_translated(n, language)) or "" for n in PROMPTS}
            found[language] = {n: text for n, text in texts.items() if text.strip()}
        return {language: texts for language, texts in found.items() if texts}


def _translation_field(name: str, label: str) -> forms.CharField:
    title = name.replace("_", " ").capitalize()
    return forms.CharField(
        label=f"{title} ({label})",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Empty: the main text (translated by the desk while it is the default).",
    )


# The per-language fields are declared on the class, so the admin's fieldsets may name them.
ServiceSettingsForm = type(
    "ServiceSettingsForm",
    (_SettingsForm,),
    {
        _translated(name, language): _translation_field(name, label)
        for language, label in OTHER_LANGUAGES
        for name in PROMPTS
    },
)


@admin.register(ServiceSettings)
class ServiceSettingsAdmin(admin.ModelAdmin):
    """A single page: the list and add views lead straight to the one row."""

    form = ServiceSettingsForm
    fieldsets = [
        (
            "Service",
            {
                "fields": [
                    "service_mode",
                    "accept_timeout_seconds",
                    "missed_offers_before_away",
                    "service_level_seconds",
                ]
            },
        ),
        (
            "Waiting",
            {
                "fields": ["queue_timeout_seconds"],
                "description": "A chat nobody served in time ends with the queue timeout "
                "notice, and the customer may leave a message.",
            },
        ),
        (
            "Idle customer",
            {"fields": ["customer_idle_timeout_seconds", "idle_warning_seconds"]},
        ),
        (
            "Working hours",
            {
                "fields": ["working_hours_enabled", "timezone", "working_hours", "holidays"],
                "description": "Outside these hours the chat page and the widget show the "
                "offline notice and a message form; messages arrive under Offline messages.",
            },
        ),
        (
            "Prompts",
            {
                "fields": _prompt_fields(PROMPTS),
                "description": "Sent to the customer as system messages. Placeholders: "
                "{customer}, {agent}, {position} (queue notice). Empty: no message. The "
                "defaults are shown; the desk translates a default text into the customer's "
                "language, or give your own per language.",
            },
        ),
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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # One row named as its model: "Change service settings" over "Service settings" (and
        # in the window's title) said it twice. The crumbs: its change_form.html.
        extra = {"title": "Service settings", "subtitle": None, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def save_model(self, request, obj, form, change):
        model_fields = {f.name for f in ServiceSettings._meta.fields}
        changes = {n: form.cleaned_data[n] for n in form.changed_data if n in model_fields}
        translations = form.translations()
        if translations != (obj.prompt_translations or {}):
            changes["prompt_translations"] = translations
        service_settings_update(**changes)


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
    fields = [
        "user",
        "display_name",
        "language",
        "status",
        "status_reason",
        "max_sessions",
        *readonly_fields,
    ]
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
            if obj.language:
                agent_update(agent_id=created.pk, language=obj.language)
            if obj.status != created.status:
                agent_set_status(agent_id=created.pk, status=obj.status, reason=obj.status_reason)
            return
        changed = set(form.changed_data)
        if changed & {"display_name", "max_sessions", "language"}:
            agent_update(
                agent_id=obj.pk,
                display_name=obj.display_name,
                max_sessions=obj.max_sessions,
                language=obj.language,
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
