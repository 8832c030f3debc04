"""Webhooks, the outbox of events they want, and one delivery per event and webhook.

An event and its deliveries are written in the transaction of the change that caused them
(sessions_app/events.py records them with the audit rows), so a crash after the commit loses
nothing: the delivery worker (webhooks_app/delivery.py) finds every pending delivery in the
table, whatever happened to the process that wrote it.
"""

import uuid

from django.db import models
from django.db.models import Q

EVENT_TYPES = (
    "session.created",
    "session.queued",
    "session.offered",
    "session.assigned",
    "session.transferred",
    "session.ended",
    "message.created",
    "agent.status_changed",
    "rating.submitted",
    "ping",
)


class Webhook(models.Model):
    """An endpoint that hears some of the desk's events (`["*"]`: all of them)."""

    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    # The HMAC key: shown once (at creation and rotation), kept to sign every delivery.
    secret = models.CharField(max_length=128)
    failures_in_a_row = models.PositiveIntegerField(
        default=0, help_text="Deliveries that failed in a row; 50 turn the webhook off."
    )
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, event_type: str) -> bool:
        return event_type == "ping" or "*" in self.events or event_type in self.events


class OutboxEvent(models.Model):
    """One event as webhooks receive it: `{"id", "type", "created_at", "data"}`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40)
    created_at = models.DateTimeField()
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One event for one webhook. Its id is the `X-Desk-Delivery` header, the same on every
    attempt; `next_attempt_at` says when it is due while pending; a worker sending it holds a
    lease (`leased_until`) so no other sends it at the same time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    response_body = models.TextField(blank=True, help_text="The last response's first 1 KB.")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            # The worker's one read: pending deliveries by when they are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due",
            ),
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_created"),
            models.Index(fields=["status", "finished_at"], name="delivery_status_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.webhook_id} ({self.status})"
