"""Row locks, taken in one global order to rule out deadlocks.

Order: chat session(s) by pk -> the routing lock (the service-settings row) -> agent rows.
Sessions may also be taken after the routing lock, but only with SKIP LOCKED (never waiting).
Every function here must run inside `transaction.atomic()`.
"""

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from agents_app.models import Agent, ServiceSettings

from .errors import NotFound
from .models import ChatSession, Offer


def lock_session(session_id: UUID | str) -> ChatSession:
    try:
        # No select_related: when the lock waits for a concurrent writer, PostgreSQL re-reads
        # the locked row but not the joined ones, so a joined agent could be stale (None).
        return ChatSession.objects.select_for_update().get(pk=session_id)
    except (ChatSession.DoesNotExist, ValueError, ValidationError):
        # A malformed id is as unknown as a missing one (never a 500).
        raise NotFound("No such chat session.") from None


def lock_standing_offer(session: ChatSession) -> Offer | None:
    """The session's standing offer, if any; the session must already be locked."""
    return Offer.objects.select_for_update().filter(session=session, outcome="").first()


def lock_routing() -> ServiceSettings:
    """Serialise every decision that changes an agent's load or eligibility."""
    row = ServiceSettings.objects.select_for_update().filter(pk=ServiceSettings.SINGLETON_PK)
    found = row.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            ServiceSettings.objects.create(pk=ServiceSettings.SINGLETON_PK)
    except IntegrityError:
        pass  # another transaction created it first
    return row.get()


def lock_agent(agent_id: int) -> Agent:
    try:
        return Agent.objects.select_for_update().select_related("user").get(pk=agent_id)
    except (Agent.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such agent.") from None
