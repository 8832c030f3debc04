"""One routing lock per skill group, and the generation that lets no caller wait for it.

A group's lock is its row: held by whoever routes that group's queue, so sessions of different
groups route in parallel. It comes after session rows and before agent rows in the lock order
(sessions_app/locks.py). An agent in several groups is protected by its own row instead: a
router locks the agents it may choose (agents_app/locks.py) before it reads their loads.

Nobody waits for a group's lock. Whoever may give routing work in a group bumps that group's
routing generation first, then tries the lock; the holder reads the generation before its pass
and looks again after its commit if it moved (sessions_app/routing/drain.py). The generation is
a PostgreSQL sequence (`nextval` is outside transactions: every process sees a bump at once).
Groups share GENERATION_SLOTS sequences by id: two groups on one slot cost each other a
spare look now and then, never a missed one; and no sequence is ever made or dropped at run
time. Must run inside `transaction.atomic()` where it locks.
"""

from dataclasses import dataclass

from django.db import connection

from skills_app.models import SkillGroup

GENERATION_SLOTS = 128


def generation_sequence(group_id: int) -> str:
    """The sequence of a group's generation (made by migration sessions_app 0006)."""
    return f"routing_generation_{int(group_id) % GENERATION_SLOTS}"


def routing_wanted(group_ids) -> None:
    """Say that routing may find work in these groups: their routers will look again."""
    slots = sorted({generation_sequence(g) for g in group_ids})
    if slots and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(f"nextval('{s}')" for s in slots))


def routing_generation(group_id: int) -> int:
    """How often routing was wanted in this group so far (seen at once by every process)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_value FROM {generation_sequence(group_id)}")
        return cursor.fetchone()[0]


@dataclass
class LockedGroup:
    """A group whose routing lock this transaction holds, and the generation seen with it."""

    pk: int
    name: str
    overflow_group_id: int | None
    generation: int


def _lock_sql(group_id: int, skip_locked: bool) -> str:
    table = SkillGroup._meta.db_table
    generation = (
        f"(SELECT last_value FROM {generation_sequence(group_id)})"
        if connection.vendor == "postgresql"
        else "0"
    )
    # NO KEY UPDATE: a session being created in the group holds a KEY SHARE lock on its row
    # (the foreign key) until it commits; that must not look like a router holding it.
    lock = " FOR NO KEY UPDATE SKIP LOCKED" if skip_locked else " FOR NO KEY UPDATE"
    if connection.vendor != "postgresql":
        lock = ""  # SQLite has no row locks: its transactions run one at a time
    return f"SELECT id, name, overflow_group_id, {generation} FROM {table} WHERE id = %s{lock}"


def try_lock_group(group_id: int) -> LockedGroup | None:
    """The group's routing lock if nobody holds it, else None at once; None too for a group
    that no longer exists. The generation is read in the same statement."""
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(group_id, skip_locked=True), [group_id])
        row = cursor.fetchone()
    return LockedGroup(*row) if row else None


def lock_group(group_id: int) -> LockedGroup | None:
    """The group's routing lock, waiting for it (changes to the group itself)."""
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(group_id, skip_locked=False), [group_id])
        row = cursor.fetchone()
    return LockedGroup(*row) if row else None
