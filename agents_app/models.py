"""Agents, their status and capacity, and the admin's service settings singleton."""

from django.conf import settings
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
)
from django.db import models
from django.utils.translation import gettext_noop

# The prompts' defaults, in English; Django's i18n gives their Simplified Chinese (locale/).
# An admin's own text is sent as written, or per language (`prompt_translations`).
DEFAULT_IDLE_END_NOTICE = gettext_noop(
    "This chat was closed because we did not hear back from you. Start a new chat any time."
)
DEFAULT_TRANSFER_NOTICE = gettext_noop("You are now chatting with {agent}.")
DEFAULT_WELCOME_NOTICE = gettext_noop("Thanks for reaching out. We'll be with you shortly.")
DEFAULT_QUEUE_NOTICE = gettext_noop("All our agents are busy. You are number {position} in line.")
DEFAULT_AGENT_JOINED_NOTICE = gettext_noop("{agent} joined the chat.")
DEFAULT_AGENT_ENDED_NOTICE = gettext_noop("{agent} ended the chat.")
DEFAULT_IDLE_WARNING_NOTICE = gettext_noop(
    "Are you still there? This chat will close soon if we don't hear from you."
)
DEFAULT_OFFLINE_NOTICE = gettext_noop(
    "We're closed right now. Leave a message and we'll get back to you."
)
DEFAULT_QUEUE_TIMEOUT_NOTICE = gettext_noop(
    "Sorry, no one could answer in time. Leave us a message and we'll get back to you."
)

# Every prompt: its settings field, its default, and the placeholders it may use.
PROMPTS = {
    "welcome_notice": (DEFAULT_WELCOME_NOTICE, "{customer}"),
    "queue_notice": (DEFAULT_QUEUE_NOTICE, "{position}, {customer}"),
    "agent_joined_notice": (DEFAULT_AGENT_JOINED_NOTICE, "{agent}, {customer}"),
    "transfer_notice": (DEFAULT_TRANSFER_NOTICE, "{agent}, {customer}"),
    "agent_ended_notice": (DEFAULT_AGENT_ENDED_NOTICE, "{agent}, {customer}"),
    "idle_warning_notice": (DEFAULT_IDLE_WARNING_NOTICE, "{agent}, {customer}"),
    "idle_end_notice": (DEFAULT_IDLE_END_NOTICE, "{agent}, {customer}"),
    "offline_notice": (DEFAULT_OFFLINE_NOTICE, ""),
    "queue_timeout_notice": (DEFAULT_QUEUE_TIMEOUT_NOTICE, "{customer}"),
}


def _prompt(name: str, when: str) -> models.TextField:
    default, placeholders = PROMPTS[name]
    filled = f" ({placeholders} are filled in)" if placeholders else ""
    return models.TextField(
        default=default,
        blank=True,
        max_length=1000,
        # TextField's max_length only sizes the admin widget; the validator enforces it.
        validators=[MaxLengthValidator(1000)],
        help_text=f"{when}{filled}. Empty: no message.",
    )


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
    transfer_notice = _prompt("transfer_notice", "Sent to the customer when a transfer is accepted")
    welcome_notice = _prompt("welcome_notice", "Sent to the customer when the chat is created")
    queue_notice = _prompt(
        "queue_notice", "Sent once when the chat has to wait in the queue (not on every move)"
    )
    agent_joined_notice = _prompt(
        "agent_joined_notice", "Sent when an agent starts serving the chat"
    )
    agent_ended_notice = _prompt("agent_ended_notice", "Sent when the agent ends the chat")
    idle_warning_notice = _prompt(
        "idle_warning_notice", "Sent `idle_warning_seconds` before an idle end"
    )
    offline_notice = _prompt(
        "offline_notice", "Shown instead of the chat outside working hours, over the message form"
    )
    queue_timeout_notice = _prompt(
        "queue_timeout_notice", "Shown when nobody served the chat within the queue timeout"
    )
    prompt_translations = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per language, prompts in that language: {"zh-hans": {"welcome_notice": '
        '"..."}}. A prompt left at its default is translated by the desk itself.',
    )
    idle_warning_seconds = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(604799)],
        help_text="How long before an idle end the customer is warned (0: no warning; less "
        "than the idle timeout).",
    )
    queue_timeout_seconds = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(7 * 86400)],
        help_text="A chat nobody served this long after it was opened ends, and the customer "
        "may leave a message (0: never).",
    )
    working_hours_enabled = models.BooleanField(
        default=False, help_text="Outside the hours below, no chat opens: a message form instead."
    )
    timezone = models.CharField(
        max_length=64, default="UTC", help_text='The hours\' IANA time zone ("Europe/Berlin").'
    )
    working_hours = models.JSONField(
        default=list,
        blank=True,
        help_text='Weekly periods: [{"weekday": 0, "start": "09:00", "end": "18:00"}, ...] '
        "(Monday 0; an end of 24:00 is midnight).",
    )
    holidays = models.JSONField(
        default=list, blank=True, help_text='Closed all day: ["2026-12-25", ...].'
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
    service_level_seconds = models.PositiveIntegerField(
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="The service level's target: the share of served chats that waited at most "
        "this long (1-3600 s; the wallboard shows today's).",
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

    def clean(self) -> None:
        """What one field's validators cannot say: the schedule's shape, the warning before the
        end, the translations' languages and prompts."""
        from django.core.exceptions import ValidationError

        from core import hours
        from core.errors import Invalid

        errors = {}
        checks = {
            "timezone": hours.clean_timezone,
            "working_hours": hours.clean_working_hours,
            "holidays": hours.clean_holidays,
            "prompt_translations": clean_prompt_translations,
        }
        for name, check in checks.items():
            try:
                setattr(self, name, check(getattr(self, name), field=name))
            except Invalid as exc:
                errors[name] = exc.detail
        warning, timeout = self.idle_warning_seconds, self.customer_idle_timeout_seconds
        if warning and timeout and warning >= timeout:
            errors["idle_warning_seconds"] = (
                "The warning comes before the idle end: less than the idle timeout."
            )
        if errors:
            raise ValidationError(errors)


def clean_prompt_translations(value: object, *, field: str = "prompt_translations") -> dict:
    """{language: {prompt: text}} for the desk's other languages; empty texts dropped (the
    prompt then follows the main text)."""
    from core.errors import Invalid

    languages = {code for code, _ in settings.LANGUAGES}
    if not isinstance(value, dict):
        raise Invalid("Give an object of languages.", field=field)
    cleaned = {}
    for language, prompts in value.items():
        if language not in languages:
            raise Invalid(f"Unknown language: {str(language)[:20]}.", field=field)
        if not isinstance(prompts, dict):
            raise Invalid("Each language maps prompts to texts.", field=field)
        texts = {}
        for name, text in prompts.items():
            if name not in PROMPTS:
                raise Invalid(f"Unknown prompt: {str(name)[:40]}.", field=field)
            if not isinstance(text, str) or len(text) > 1000:
                raise Invalid("A prompt is text of at most 1000 characters.", field=field)
            if text.strip():
                texts[name] = text
        if texts:
            cleaned[language] = texts
    return cleaned


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
    language = models.CharField(
        max_length=16,
        blank=True,
        choices=settings.LANGUAGES,
        help_text="The workspace's language (blank: the browser's).",
    )

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
