"""Row locks, taken in one global order to rule out deadlocks.

Order: chat session(s) by pk -> the routing lock (the service-settings row) -> agent rows.
Sessions may also be taken after the routing lock, but only with SKIP LOCKED (never waiting).
Routing itself never waits for the routing lock (`try_lock_routing`); settings and agent
changes do.
Every function here must run inside `transaction.atomic()`.
"""

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Subquery

from agents_app.models import Agent, ServiceSettings

from .errors import NotFound
from .models import ChatSession, Offer


def lock_session(
    session_id: UUID | str, *, wait: bool = True, idle_timeout: bool = False
) -> ChatSession | None:
    """The session, locked. `wait=False`: None at once if another transaction holds it.

    `idle_timeout`: also the admin's current customer idle timeout, read in the same
    statement, as `session.current_idle_timeout` (None if the settings row is yet to be made).
    """
    if idle_timeout:
        current = ServiceSettings.objects.filter(pk=ServiceSettings.SINGLETON_PK)
        column = current.values("customer_idle_timeout_seconds")[:1]
        sessions = ChatSession.objects.annotate(current_idle_timeout=Subquery(column))
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


def try_lock_routing() -> ServiceSettings | None:
    """The routing lock if nobody holds it, else None at once (PostgreSQL).

    SQLite has no row locks (its transactions run one at a time): there it simply waits.
    """
    if connection.vendor != "postgresql":
        return lock_routing()
    row = ServiceSettings.objects.select_for_update(skip_locked=True)
    found = row.filter(pk=ServiceSettings.SINGLETON_PK).first()
    if (
        found is None
        and not ServiceSettings.objects.filter(pk=ServiceSettings.SINGLETON_PK).exists()
    ):
        return lock_routing()  # first use: create the row
    return found


_GENERATION = "sessions_app_routing_generation"


def routing_wanted() -> None:
    """Say that routing may find work: the router that holds the lock will look again."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [_GENERATION])


def routing_generation() -> int:
    """How often routing was wanted so far (not transactional: sees every request at once)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_value FROM {_GENERATION}")
        return cursor.fetchone()[0]


def lock_agent(agent_id: int) -> Agent:
    try:
        return Agent.objects.select_for_update().select_related("user").get(pk=agent_id)
    except (Agent.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such agent.") from None
