"""Row locks on chat sessions and their offers, in the desk's one lock order.

Order: chat session(s) by pk -> the routing lock (sessions_app/routing/lock.py) -> agent rows
(agents_app/locks.py). Sessions may also be taken after the routing lock, but only with SKIP
LOCKED (never waiting). Every function here must run inside `transaction.atomic()`.
"""

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Subquery

from agents_app.models import ServiceSettings
from core.errors import NotFound

from .models import ChatSession, Offer


def lock_session(
    session_id: UUID | str, *, wait: bool = True, idle_timeout: bool = False
) -> ChatSession | None:
    """The session, locked. `wait=False`: None at once if another transaction holds it.

    `idle_timeout`: also the admin's current customer idle timeout and idle warning, read in
    the same statement, as `session.current_idle_timeout` and `.current_idle_warning` (None if
    the settings row is yet to be made).
    """
    if idle_timeout:
        current = ServiceSettings.objects.filter(pk=ServiceSettings.SINGLETON_PK)
        sessions = ChatSession.objects.annotate(
            current_idle_timeout=Subquery(current.values("customer_idle_timeout_seconds")[:1]),
            current_idle_warning=Subquery(current.values("idle_warning_seconds")[:1]),
        )
    else:
        sessions = ChatSession.objects.all()
    try:
        # No select_related: when the lock waits for a concurrent writer, PostgreSQL re-reads
        # the locked row but not the joined ones, so a joined agent could be stale (None).
        if not wait:
            found = sessions.select_for_update(skip_locked=True).filter(pk=session_id)
            if found := found.first():
                return found
            if ChatSession.objects.filter(pk=session_id).exists():
                return None
            raise ChatSession.DoesNotExist
        return sessions.select_for_update().get(pk=session_id)
    except (ChatSession.DoesNotExist, ValueError, ValidationError):
        # A malformed id is as unknown as a missing one (never a 500).
        raise NotFound("No such chat session.") from None


def lock_session_for_timer(session_id: UUID | str, *, wait: bool = True) -> ChatSession | None:
    """The session locked for a timer's re-check, or None: no such session, or (`wait=False`)
    someone else holds it (they end it, or move or clear its deadline)."""
    try:
        return lock_session(session_id, wait=wait)
    except NotFound:
        return None


def lock_sessions(session_ids) -> dict:
    """Several sessions, locked in pk order (waiting): id -> session. Unknown ids are left out."""
    sessions = ChatSession.objects.select_for_update().filter(pk__in=session_ids).order_by("pk")
    return {session.pk: session for session in sessions}


def lock_standing_offer(session: ChatSession) -> Offer | None:
    """The session's standing offer, if any; the session must already be locked."""
    return Offer.objects.standing().select_for_update().filter(session=session).first()
