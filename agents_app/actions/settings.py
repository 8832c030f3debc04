"""The service settings singleton: read it, change it."""

from django.core.exceptions import ValidationError
from django.db import transaction

from core.commit import after_commit
from core.errors import Invalid, invalid_from
from sessions_app.routing.drain import queue_drain

from ..models import ServiceSettings

SETTINGS_FIELDS = (
    "service_mode",
    "accept_timeout_seconds",
    "customer_idle_timeout_seconds",
    "idle_end_notice",
    "default_max_sessions",
    "missed_offers_before_away",
    "presence_grace_seconds",
    "transfer_notice",
    "rating_enabled",
    "rating_scale",
    "rating_window_seconds",
    "welcome_notice",
    "queue_notice",
    "agent_joined_notice",
    "agent_ended_notice",
    "idle_warning_notice",
    "offline_notice",
    "queue_timeout_notice",
    "prompt_translations",
    "idle_warning_seconds",
    "queue_timeout_seconds",
    "working_hours_enabled",
    "timezone",
    "working_hours",
    "holidays",
    "service_level_seconds",
)


def service_settings_update(**changes) -> ServiceSettings:
    """Change the settings; a lowered capacity takes effect for new allocations only."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise Invalid(f"Unknown setting: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    with transaction.atomic():
        cfg = _lock_settings()
        for name, value in changes.items():
            setattr(cfg, name, value)
        try:
            cfg.full_clean()
        except ValidationError as exc:
            raise invalid_from(exc) from None
        cfg.save(update_fields=[*changes, "updated_at"])
        if "default_max_sessions" in changes:
            after_commit(queue_drain)
    return cfg


def _lock_settings() -> ServiceSettings:
    """The settings row, locked (made with its defaults on first use)."""
    service_settings_get()
    return ServiceSettings.objects.select_for_update().get(pk=ServiceSettings.SINGLETON_PK)


def service_settings_get() -> ServiceSettings:
    return ServiceSettings.objects.get_or_create(pk=ServiceSettings.SINGLETON_PK)[0]
