"""Admin for chat sessions: messages and audit events inline, ending goes through actions."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.utils.html import format_html

from agents_app.models import Agent, AgentStatus
from core.errors import DomainError
from skills_app.models import SkillGroup

from . import audit, selectors
from .actions.end import session_end
from .actions.offline import offline_message_set_handled
from .actions.transfer import MAX_NOTE, session_transfer
from .models import (
    ChatSession,
    EndReason,
    Message,
    Offer,
    OfflineMessage,
    Rating,
    SessionEvent,
    SessionState,
)


class TransferForm(forms.Form):
    to_agent = forms.ModelChoiceField(
        queryset=Agent.objects.filter(status=AgentStatus.ONLINE).select_related("user"),
        required=False,
        help_text="An online agent with room, or",
    )
    to_group = forms.ModelChoiceField(
        queryset=SkillGroup.objects.order_by("name"),
        required=False,
        help_text="a group: its best free agent.",
    )
    note = forms.CharField(required=False, max_length=MAX_NOTE, widget=forms.Textarea)

    def clean(self):
        data = super().clean()
        if bool(data.get("to_agent")) == bool(data.get("to_group")):
            raise forms.ValidationError("Choose an agent or a group (one of the two).")
        return data


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["created_at", "sender", "body"]
    readonly_fields = fields


class OfferInline(ReadOnlyInline):
    model = Offer
    fields = ["created_at", "kind", "agent", "from_agent", "note", "expires_at", "outcome"]
    readonly_fields = fields

    def get_queryset(self, request):
        # Each row's label (Offer.__str__) and agent links, without a query per row.
        related = ["session", "agent__user", "from_agent__user"]
        return super().get_queryset(request).select_related(*related)


class RatingInline(ReadOnlyInline):
    model = Rating
    fields = ["score", "scale", "comment", "agent", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent__user")


class EventLine:
    """What an event says, in words (sessions_app/audit.py), as an admin column or field."""

    @admin.display(description="what happened")
    def what_happened(self, obj) -> str:
        if not hasattr(obj, "line"):  # a page of one event
            audit.with_lines([obj])
        return obj.line


class EventFormSet(BaseInlineFormSet):
    """A chat's events, their agents named in one query for the whole inline."""

    def get_queryset(self):
        found = super().get_queryset()
        if not getattr(self, "_lines_named", False):
            audit.with_lines(found)  # evaluates it: the forms take their rows from that cache
            self._lines_named = True
        return found


class EventInline(EventLine, ReadOnlyInline):
    model = SessionEvent
    formset = EventFormSet
    fields = ["created_at", "kind", "agent", "what_happened"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent__user")


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = [
        "customer_name",
        "state",
        "agent",
        "created_at",
        "ended_at",
        "end_reason",
        "rated",
    ]
    list_select_related = ["agent__user", "rating"]
    list_filter = ["state", "agent", "end_reason", "rating__score"]
    search_fields = ["customer_name", "id"]
    date_hierarchy = "created_at"
    inlines = [MessageInline, RatingInline, OfferInline, EventInline]
    actions = ["end_as_staff", "transfer_as_staff"]
    readonly_fields = [
        "id",
        "state",
        "customer_name",
        "agent",
        "skill_group",
        "created_at",
        "accepted_at",
        "ended_at",
        "end_reason",
        "overflow_at",
        "overflowed_at",
        "last_activity_at",
        "idle_deadline",
        "idle_timeout_seconds",
        "idle_warning_at",
        "queue_deadline",
        "language",
        "email",
        "attributes",
        "record",
    ]

    @admin.display(description="record (once ended)")
    def record(self, obj) -> str:
        found = selectors.session_record(obj)
        if found is None:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(found, indent=2, ensure_ascii=False))

    @admin.display(description="rating", ordering="rating__score")
    def rated(self, obj) -> str:
        rating = getattr(obj, "rating", None)
        return f"{rating.score}/{rating.scale}" if rating is not None else "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewable, never edited by hand (no Save buttons): every change of state goes through
        # an action, as the list's actions do.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="End selected chat sessions (as staff)")
    def end_as_staff(self, request, queryset):
        ended = 0
        for session in queryset.exclude(state="ended"):
            try:
                session_end(session_id=session.pk, reason=EndReason.STAFF_ENDED)
                ended += 1
            except DomainError as exc:
                self.message_user(request, f"{session}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"Ended {ended} chat session(s).")

    @admin.action(description="Transfer selected active chat sessions (as staff)")
    def transfer_as_staff(self, request, queryset):
        sessions = list(queryset.filter(state=SessionState.ACTIVE).select_related("agent__user"))
        form = TransferForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {**self.admin_site.each_context(request), "form": form, "sessions": sessions}
            return TemplateResponse(request, "admin/sessions_app/transfer.html", context)
        target = form.cleaned_data
        done = 0
        for session in sessions:
            try:
                session_transfer(
                    session_id=session.pk,
                    to_agent=target["to_agent"].pk if target["to_agent"] else None,
                    to_group=target["to_group"].pk if target["to_group"] else None,
                    note=target["note"],
                    staff=True,
                )
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{session}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"Offered {done} chat session(s) for transfer.")
        return None


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by actions only: the admin reads it."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EventChangeList(ChangeList):
    """The event log, its agents and groups named in one query per page."""

    def get_results(self, request):
        super().get_results(request)
        # The page's rows, evaluated once: the table is drawn from the same cache.
        audit.with_lines(self.result_list)


@admin.register(SessionEvent)
class SessionEventAdmin(EventLine, ReadOnlyAdmin):
    list_display = ["created_at", "kind", "session", "agent", "what_happened"]
    list_filter = ["kind", "agent"]
    search_fields = ["session__id", "kind"]
    list_select_related = ["session", "agent__user"]
    fields = ["created_at", "kind", "session", "agent", "what_happened", "data"]
    readonly_fields = fields

    def get_changelist(self, request, **kwargs):
        return EventChangeList


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "created_at", "expires_at", "resolved_at", "outcome"]
    list_filter = ["outcome", "kind", "agent"]
    search_fields = ["session__id"]
    list_select_related = ["session", "agent__user"]  # the label names both
    # Named, so the page shows the times Django keeps off forms (created_at is automatic).
    fields = [
        "session",
        "kind",
        "agent",
        "from_agent",
        "note",
        "created_at",
        "timeout_seconds",
        "expires_at",
        "outcome",
        "resolved_at",
    ]
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "session", "sender", "body"]
    list_filter = ["sender"]
    search_fields = ["body", "session__id"]
    list_select_related = ["session"]
    fields = ["session", "sender", "author", "body", "created_at", "read_at"]
    readonly_fields = fields


@admin.register(OfflineMessage)
class OfflineMessageAdmin(admin.ModelAdmin):
    """Messages left while the desk was closed (or after nobody answered in time): read them,
    write back by email, mark them handled."""

    list_display = ["created_at", "customer_name", "email", "short_message", "language", "handled"]
    list_filter = ["handled", "language", "created_at"]
    search_fields = ["customer_name", "email", "message"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "customer_name",
        "email",
        "message",
        "language",
        "session",
        "handled",
        "handled_at",
        "handled_by",
    ]
    readonly_fields = [f for f in fields if f != "handled"]
    actions = ["mark_handled", "mark_open"]

    @admin.display(description="message")
    def short_message(self, obj) -> str:
        return obj.message if len(obj.message) <= 80 else obj.message[:79] + "…"

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        if "handled" in form.changed_data:
            offline_message_set_handled(message_id=obj.pk, handled=obj.handled, user=request.user)

    def _mark(self, request, queryset, handled: bool) -> None:
        for found in queryset:
            offline_message_set_handled(message_id=found.pk, handled=handled, user=request.user)
        self.message_user(request, f"{queryset.count()} message(s) marked.")

    @admin.action(description="Mark selected messages handled")
    def mark_handled(self, request, queryset):
        self._mark(request, queryset, True)

    @admin.action(description="Mark selected messages not handled")
    def mark_open(self, request, queryset):
        self._mark(request, queryset, False)
