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

import json
from dataclasses import dataclass, field

from django.db import connection

from agents_app.models import ServiceSettings
from core import sql
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


def _generation_sql(group_id_sql: str) -> str:
    """The generation of the group whose id the SQL expression gives (0 before any bump:
    `last_value` alone cannot tell "never bumped" from "bumped once")."""
    if connection.vendor != "postgresql":
        return "0"
    return (
        "COALESCE(pg_sequence_last_value(('routing_generation_' || "
        f"({group_id_sql}) %% {GENERATION_SLOTS})::regclass), 0)"
    )


def routing_generation(group_id: int) -> int:
    """How often routing was wanted in this group so far (seen at once by every process)."""
    if connection.vendor != "postgresql":
        return 0
    return sql.one(f"SELECT {_generation_sql('%s')}", [int(group_id)])[0]


@dataclass(frozen=True)
class RoutingSettings:
    """The desk-wide settings a routing pass reads, read with the group's lock."""

    service_mode: str
    accept_timeout_seconds: int
    default_max_sessions: int
    # What a new chat and a routing pass need besides: the queue timeout and the prompts they
    # may send (sessions_app/prompts.py reads these as it reads the settings).
    queue_timeout_seconds: int = 0
    welcome_notice: str = ""
    queue_notice: str = ""
    agent_joined_notice: str = ""
    working_hours_enabled: bool = False
    prompt_translations: dict = field(default_factory=dict)

    COLUMNS = (
        "service_mode",
        "accept_timeout_seconds",
        "default_max_sessions",
        "queue_timeout_seconds",
        "welcome_notice",
        "queue_notice",
        "agent_joined_notice",
        "working_hours_enabled",
        "prompt_translations",
    )

    @classmethod
    def of(cls, cfg: ServiceSettings) -> "RoutingSettings":
        return cls(*(getattr(cfg, name) for name in cls.COLUMNS))

    @classmethod
    def from_row(cls, row) -> "RoutingSettings":
        *plain, translations = row
        if isinstance(translations, (str, bytes)):  # as the driver hands JSON over
            translations = json.loads(translations)
        return cls(*plain, prompt_translations=translations or {})


@dataclass
class LockedGroup:
    """A group, and whether this transaction holds its routing lock; with the generation and
    the settings seen in the same statement."""

    pk: int
    name: str
    overflow_group_id: int | None
    overflow_after_seconds: int | None
    generation: int
    locked: bool
    cfg: RoutingSettings


def _lock_sql(where: str, skip_locked: bool) -> str:
    group, settings = SkillGroup._meta.db_table, ServiceSettings._meta.db_table
    # NO KEY UPDATE: a session being created in the group holds a KEY SHARE lock on its row
    # (the foreign key) until it commits; that must not look like a router holding it.
    how = "FOR NO KEY UPDATE SKIP LOCKED" if skip_locked else "FOR NO KEY UPDATE"
    attempt = sql.lock_clause(how)
    # SQLite has no row locks (its transactions run one at a time): the attempt always wins.
    return f"""
        SELECT g.id, g.name, g.overflow_group_id, g.overflow_after_seconds,
            {_generation_sql("g.id")},
            EXISTS (SELECT 1 FROM {group} l WHERE l.id = g.id{attempt}),
            {", ".join("c." + name for name in RoutingSettings.COLUMNS)}
        FROM {group} g LEFT JOIN {settings} c ON c.id = {ServiceSettings.SINGLETON_PK}
        WHERE {where}
    """


def _open(where: str, params: list, skip_locked: bool) -> LockedGroup | None:
    row = sql.one(_lock_sql(where, skip_locked), params)
    if row is None:
        return None
    if row[6] is None:  # no settings row yet: made with its defaults
        from agents_app.selectors import service_settings

        cfg = RoutingSettings.of(service_settings())
    else:
        cfg = RoutingSettings.from_row(row[6:])
    return LockedGroup(*row[:4], generation=row[4], locked=bool(row[5]), cfg=cfg)


def open_group(group_id: int | None) -> LockedGroup | None:
    """One statement for a new session: the group (the default one for None), its routing
    lock if nobody holds it (`locked`), its generation and the settings; None if no such
    group."""
    if group_id is None:
        return _open("g.is_default", [], skip_locked=True)
    return _open("g.id = %s", [group_id], skip_locked=True)


def try_lock_group(group_id: int) -> LockedGroup | None:
    """The group's routing lock if nobody holds it, else None at once; None too for a group
    that no longer exists. The generation is read in the same statement."""
    found = _open("g.id = %s", [group_id], skip_locked=True)
    return found if found is not None and found.locked else None


def lock_group(group_id: int) -> LockedGroup | None:
    """The group's routing lock, waiting for it (changes to the group itself)."""
    return _open("g.id = %s", [group_id], skip_locked=False)
