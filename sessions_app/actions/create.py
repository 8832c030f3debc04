"""A customer opens a chat: the session, its first message, and routing in creation order."""

import secrets

from django.db import transaction

from core.text import clean_body, clean_name

from .. import events, selectors
from ..access import hash_token
from ..events import Event
from ..models import ChatSession, EventKind, Message, Sender, SessionState
from ..routing import drain


def session_create(*, customer_name: str, message: str | None = None) -> tuple[ChatSession, str]:
    """Open a chat for an anonymous customer and route it. Returns the session and its secret."""
    name = clean_name(customer_name)
    body = clean_body(message) if message not in (None, "") else None
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        session = ChatSession.objects.create(
            customer_name=name, customer_token_hash=hash_token(token)
        )
        if body:
            Message.objects.create(session=session, sender=Sender.CUSTOMER, body=body)
        events.record(Event(EventKind.SESSION_CREATED, session))
    # Routing takes the queue in creation order, so a newcomer never jumps the line.
    drained = drain.drain(queued=True, watch=session.pk)
    if drained.watched is not None and drained.watched.state == SessionState.OFFERED:
        session = drained.watched  # offered here: as it was written, its offer attached
    else:
        session = selectors.session_get(session.pk)
    if session.state == SessionState.QUEUED and drained.held_lock:
        # We routed and found no room: say why. (If someone else was routing, it goes on and
        # routes this one too; no verdict to record yet.)
        drain.audit_queued(session)
    return session, token
