"""Admin for webhooks and their delivery log; changes go through the actions."""

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from core.errors import DomainError

from .actions import (
    delivery_redeliver,
    webhook_create,
    webhook_ping,
    webhook_rotate_secret,
    webhook_update,
)
from .delivery import body_of
from .models import EVENT_TYPES, Delivery, Webhook


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[("*", "All events"), *((t, t) for t in EVENT_TYPES if t != "ping")],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Webhook
        fields = ["url", "description", "events", "is_active"]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """The secret is shown once, when made or rotated; deliveries are under Deliveries."""

    form = WebhookForm
    list_display = ["url", "description", "event_list", "is_active", "failures_in_a_row"]
    list_filter = ["is_active"]
    readonly_fields = ["failures_in_a_row", "disabled_reason", "delivery_log"]
    actions = ["rotate_secret", "send_ping"]

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "events", "is_active"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    @admin.display(description="events")
    def event_list(self, obj) -> str:
        return ", ".join(obj.events)

    @admin.display(description="deliveries")
    def delivery_log(self, obj) -> str:
        url = f"/admin/webhooks_app/delivery/?webhook__id__exact={obj.pk}"
        return format_html('<a href="{}">The delivery log of this webhook</a>', url)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in ("url", "description", "events")}
        data["is_active"] = form.cleaned_data["is_active"]
        try:
            if change:
                saved = webhook_update(webhook_id=obj.pk, **data)
            else:
                saved = webhook_create(**data)
                self._show_secret(request, saved)
        except DomainError as exc:
            self.message_user(request, str(exc.detail), messages.ERROR)
            return
        obj.pk = saved.pk

    def _show_secret(self, request, hook: Webhook) -> None:
        self.message_user(
            request,
            f"The signing secret of {hook.url} is {hook.secret} — copy it now: it is not "
            "shown again (rotate it to get a new one).",
            messages.WARNING,
        )

    @admin.action(description="Rotate the secret of the selected webhooks")
    def rotate_secret(self, request, queryset):
        for hook in queryset:
            self._show_secret(request, webhook_rotate_secret(webhook_id=hook.pk))

    @admin.action(description="Send a ping to the selected webhooks")
    def send_ping(self, request, queryset):
        for hook in queryset:
            webhook_ping(webhook_id=hook.pk)
        self.message_user(request, f"Ping queued for {queryset.count()} webhook(s).")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log: filter by webhook, status and event type; redeliver."""

    list_display = [
        "created_at",
        "event_type",
        "webhook",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "delivered_at",
    ]
    list_filter = ["status", "event_type", "webhook"]
    list_select_related = ["webhook"]
    search_fields = ["id", "event__id"]
    date_hierarchy = "created_at"
    actions = ["redeliver"]
    fields = [
        "id",
        "webhook",
        "event_type",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
        "request",
        "response_body",
    ]
    readonly_fields = fields

    @admin.display(description="request (POST body; the X-Desk-* headers are added per attempt)")
    def request(self, obj) -> str:
        body = json.loads(body_of(obj.event))
        return format_html("<pre>{}</pre>", json.dumps(body, indent=2, ensure_ascii=False))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a log: read here, acted on by the action below

    @admin.action(description="Redeliver the selected deliveries (same X-Desk-Delivery)")
    def redeliver(self, request, queryset):
        for found in queryset:
            delivery_redeliver(webhook_id=found.webhook_id, delivery_id=found.pk)
        self.message_user(request, f"{queryset.count()} delivery(ies) queued again.")
