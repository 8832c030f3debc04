"""Admin for chat sessions: messages and audit events inline, ending goes through actions."""

from django.contrib import admin, messages

from core.errors import DomainError

from .actions.end import session_end
from .models import ChatSession, EndReason, Message, Offer, SessionEvent


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
    fields = ["created_at", "agent", "expires_at", "outcome", "resolved_at"]
    readonly_fields = fields


class EventInline(ReadOnlyInline):
    model = SessionEvent
    fields = ["created_at", "kind", "agent", "data"]
    readonly_fields = fields


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = ["customer_name", "state", "agent", "created_at", "ended_at", "end_reason"]
    list_select_related = ["agent__user"]
    list_filter = ["state", "agent", "end_reason"]
    search_fields = ["customer_name", "id"]
    date_hierarchy = "created_at"
    inlines = [MessageInline, OfferInline, EventInline]
    actions = ["end_as_staff"]
    readonly_fields = [
        "id",
        "state",
        "customer_name",
        "agent",
        "created_at",
        "accepted_at",
        "ended_at",
        "end_reason",
        "last_activity_at",
        "idle_deadline",
        "idle_timeout_seconds",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewable, never edited by hand: every change of state goes through an action.
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)

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


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by actions only: the admin reads it."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SessionEvent)
class SessionEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "session", "agent", "data"]
    list_filter = ["kind", "agent"]
    search_fields = ["session__id", "kind"]
    list_select_related = ["session", "agent__user"]


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = ["pk", "session", "agent", "created_at", "expires_at", "outcome", "resolved_at"]
    list_filter = ["outcome", "agent"]
    search_fields = ["session__id"]
    list_select_related = ["session", "agent__user"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "session", "sender", "body"]
    list_filter = ["sender"]
    search_fields = ["body", "session__id"]
    list_select_related = ["session"]
