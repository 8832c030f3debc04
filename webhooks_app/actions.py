"""Webhooks: create, change, delete, rotate the secret, redeliver, ping."""

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.errors import Invalid, NotFound

from . import guard
from .delivery import wake
from .models import EVENT_TYPES, Delivery, DeliveryStatus, Webhook
from .outbox import forget_subscriptions, record_ping

MAX_URL = 2000


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _clean_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise Invalid("Give the URL to deliver to.", field="url")
    url = url.strip()
    if len(url) > MAX_URL:
        raise Invalid(f"At most {MAX_URL} characters.", field="url")
    guard.check_on_save(url)
    return url


def _clean_events(events: object) -> list[str]:
    if not isinstance(events, list) or not events or len(events) > len(EVENT_TYPES) + 1:
        raise Invalid('Give a list of event types, or ["*"] for all.', field="events")
    unknown = [e for e in events if e != "*" and e not in EVENT_TYPES]
    if unknown or not all(isinstance(e, str) for e in events):
        raise Invalid(f"Unknown event type: {str(unknown[:1])[:60]}.", field="events")
    return ["*"] if "*" in events else sorted(set(events))


def _clean_text(value: object, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(f"Text of at most {limit} characters.", field=field)
    return value.strip()


def _clean_secret(value: object) -> str:
    if value in (None, ""):
        return new_secret()
    if not isinstance(value, str) or not 16 <= len(value) <= 128 or not value.isprintable():
        raise Invalid("A secret is 16 to 128 printable characters.", field="secret")
    return value


def webhook_create(
    *, url: object, events: object, description: object = "", is_active: bool = True, secret=None
) -> Webhook:
    """A new webhook; its secret (given, or made here) is on the returned instance."""
    found = Webhook(
        url=_clean_url(url),
        events=_clean_events(events),
        description=_clean_text(description, "description", 200),
        is_active=bool(is_active),
        secret=_clean_secret(secret),
    )
    found.save()
    transaction.on_commit(forget_subscriptions)
    return found


def _locked(webhook_id: object) -> Webhook:
    try:
        pk = int(str(webhook_id))
    except (TypeError, ValueError):
        raise NotFound("No such webhook.") from None
    found = Webhook.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound("No such webhook.")
    return found


def webhook_update(*, webhook_id: object, **changes) -> Webhook:
    """Change url, events, description or is_active; turning it on again clears the
    breaker's count and reason."""
    with transaction.atomic():
        found = _locked(webhook_id)
        if "url" in changes:
            found.url = _clean_url(changes["url"])
        if "events" in changes:
            found.events = _clean_events(changes["events"])
        if "description" in changes:
            found.description = _clean_text(changes["description"], "description", 200)
        if "is_active" in changes:
            active = bool(changes["is_active"])
            if active and not found.is_active:
                found.failures_in_a_row, found.disabled_reason = 0, ""
            found.is_active = active
        found.save()
        transaction.on_commit(forget_subscriptions)
    return found


def webhook_delete(*, webhook_id: object) -> None:
    with transaction.atomic():
        _locked(webhook_id).delete()
        transaction.on_commit(forget_subscriptions)


def webhook_rotate_secret(*, webhook_id: object) -> Webhook:
    """A new secret, in force for every delivery attempt from now on."""
    with transaction.atomic():
        found = _locked(webhook_id)
        found.secret = new_secret()
        found.save(update_fields=["secret", "updated_at"])
    return found


def webhook_ping(*, webhook_id: object) -> Delivery:
    with transaction.atomic():
        found = _locked(webhook_id)
    return record_ping(found)


def delivery_redeliver(*, webhook_id: object, delivery_id: object) -> Delivery:
    """Queue a delivery again, now, with the same id (`X-Desk-Delivery`) and 8 new attempts."""
    with transaction.atomic():
        _locked(webhook_id)
        try:
            found = (
                Delivery.objects.select_for_update()
                .filter(pk=str(delivery_id), webhook_id=int(str(webhook_id)))
                .first()
            )
        except (ValueError, TypeError, ValidationError):  # a malformed id is no delivery
            found = None
        if found is None:
            raise NotFound("No such delivery.")
        found.status = DeliveryStatus.PENDING
        found.attempts = 0
        found.next_attempt_at = timezone.now()
        found.leased_until = None
        found.finished_at = None
        found.save()
        transaction.on_commit(wake)
    return found
