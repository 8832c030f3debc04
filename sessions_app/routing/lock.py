"""The routing lock, and the routing generation that lets no caller wait for it.

The lock is the service-settings row: held by every decision that changes an agent's load or
eligibility (routing with `try_lock_routing`, status and capacity changes with `lock_routing`).
It comes after session rows and before agent rows in the lock order. Must run inside
`transaction.atomic()`.
"""

from django.db import IntegrityError, connection, transaction

from agents_app.models import ServiceSettings


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
