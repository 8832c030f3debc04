"""Agents, their status and capacity, and the admin's service settings singleton."""

from django.conf import settings
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
)
from django.db import models

DEFAULT_IDLE_END_NOTICE = (
    "This chat was closed because we did not hear back from you. Start a new chat any time."
)
DEFAULT_TRANSFER_NOTICE = "You are now chatting with {agent}."


class ServiceMode(models.TextChoices):
    AUTO = "auto", "Automatic service"
    MANUAL = "manual", "Manual service (offer with countdown)"


class ServiceSettings(models.Model):
    """The one row of desk-wide settings (pk=1)."""

    SINGLETON_PK = 1

    service_mode = models.CharField(
        max_length=10, choices=ServiceMode.choices, default=ServiceMode.MANUAL
    )
    accept_timeout_seconds = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="How long an offer stands before it moves to another agent (1-3600 s).",
    )
    customer_idle_timeout_seconds = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(1), MaxValueValidator(604800)],
        help_text="After an agent's message, how long the customer may stay silent (1-604800 s).",
    )
    idle_end_notice = models.TextField(
        default=DEFAULT_IDLE_END_NOTICE,
        max_length=1000,
        # TextField's max_length only sizes the admin widget; the validator enforces it.
        validators=[MinLengthValidator(1), MaxLengthValidator(1000)],
        help_text="The overtime end reminder sent to the customer on an idle end.",
    )
    default_max_sessions = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Capacity of an agent whose own max sessions is blank (1-100).",
    )
    missed_offers_before_away = models.PositiveIntegerField(
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="After this many offers in a row expire unanswered, the agent is set away "
        "(0-100; 0: never).",
    )
    presence_grace_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text="An online agent with no open workspace for this long is set away (5-3600 s).",
    )
    transfer_notice = models.TextField(
        default=DEFAULT_TRANSFER_NOTICE,
        blank=True,
        max_length=1000,
        validators=[MaxLengthValidator(1000)],
        help_text="Sent to the customer when a transfer is accepted ({agent}, {customer} are "
        "filled in; empty: no message).",
    )
    rating_enabled = models.BooleanField(
        default=True,
        help_text="After a chat an agent served, the customer may rate it once.",
    )
    rating_scale = models.PositiveSmallIntegerField(
        default=5,
        choices=[(5, "1-5 stars"), (10, "1-10")],
        help_text="The highest score a customer may give.",
    )
    rating_window_seconds = models.PositiveIntegerField(
        default=86400,
        validators=[MinValueValidator(60), MaxValueValidator(30 * 86400)],
        help_text="How long after the end a chat may still be rated (60 s to 30 days).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "service settings"
        verbose_name_plural = "service settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="service_settings_singleton"),
            # The ranges again in the database, so no write path can store a broken timer.
            models.CheckConstraint(
                condition=models.Q(accept_timeout_seconds__range=(1, 3600)),
                name="accept_timeout_range",
            ),
            models.CheckConstraint(
                condition=models.Q(customer_idle_timeout_seconds__range=(1, 604800)),
                name="idle_timeout_range",
            ),
            models.CheckConstraint(
                condition=models.Q(default_max_sessions__range=(1, 100)),
                name="default_max_sessions_range",
            ),
            models.CheckConstraint(
                condition=models.Q(missed_offers_before_away__range=(0, 100)),
                name="missed_offers_before_away_range",
            ),
        ]

    def __str__(self) -> str:
        return "Service settings"


class AgentStatus(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class Agent(models.Model):
    """A user who serves chats. Capacity blank means the settings' default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    display_name = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=10, choices=AgentStatus.choices, default=AgentStatus.OFFLINE
    )
    max_sessions = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Blank: the service settings' default.",
    )
    status_reason = models.CharField(
        max_length=100,
        blank=True,
        help_text="Why the agent is away or offline (e.g. lunch, missed_offers); cleared online.",
    )
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        # One plain index (db_index on a CharField adds a second, for LIKE, never used here).
        indexes = [models.Index(fields=["status"], name="agent_status")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_sessions__isnull=True)
                | models.Q(max_sessions__range=(1, 100)),
                name="agent_max_sessions_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_username()
