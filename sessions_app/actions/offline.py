"""Offline messages: what a customer leaves while the desk is closed, or after nobody answered
in time; staff mark them handled."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.errors import Invalid, NotFound
from core.text import clean_body, clean_email, clean_name

from ..access import hash_token
from ..models import ChatSession, EndReason, OfflineMessage
from ..prompts import language_or_default


def offline_message_create(
    *,
    customer_name: object,
    email: object,
    message: object,
    language: str | None = None,
    session_id: object = None,
    customer_token: str | None = None,
) -> OfflineMessage:
    """Store a customer's message for staff. `session_id` with its customer's token ties it
    to the chat that timed out in the queue (the link is dropped if they do not match)."""
    name = clean_name(customer_name)
    address = clean_email(email)
    if not address:
        raise Invalid("Give an email address, so we can write back.", field="email")
    text = clean_body(message, field="message")
    found = OfflineMessage(
        customer_name=name,
        email=address,
        message=text,
        language=language_or_default(language),
        session=_own_session(session_id, customer_token),
    )
    found.save()
    return found


def _own_session(session_id: object, token: str | None) -> ChatSession | None:
    if not session_id or not token:
        return None
    try:
        return ChatSession.objects.get(
            pk=str(session_id),
            customer_token_hash=hash_token(token),
            end_reason=EndReason.QUEUE_TIMEOUT,
        )
    except (ChatSession.DoesNotExist, ValueError, ValidationError):  # a malformed id: none
        return None


def offline_message_set_handled(*, message_id: object, handled: bool, user) -> OfflineMessage:
    """Mark a message handled (by whom, when) or not handled again."""
    try:
        pk = int(str(message_id))
    except (TypeError, ValueError):
        raise NotFound("No such offline message.") from None
    with transaction.atomic():
        found = OfflineMessage.objects.select_for_update().filter(pk=pk).first()
        if found is None:
            raise NotFound("No such offline message.")
        if found.handled != handled:
            found.handled = handled
            found.handled_at = timezone.now() if handled else None
            found.handled_by = user if handled else None
            found.save(update_fields=["handled", "handled_at", "handled_by"])
    return found
