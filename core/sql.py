"""Plain SQL for the hot paths (session create and routing), on PostgreSQL and SQLite alike.

The ORM compiles every statement anew: on the create path that cost more than the database
did. These helpers send a written statement through Django's connection (so transactions,
`on_commit` and the test database are Django's), and convert values the way the fields do.
"""

import contextlib
import threading
from collections.abc import Iterator

from django.db import connection
from django.db.models import Model

_held = threading.local()  # the writes of an open `writes()` block, per thread


def rows(sql: str, params=()) -> list[tuple]:
    _send_held()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def one(sql: str, params=()) -> tuple | None:
    _send_held()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def execute(sql: str, params=()) -> int:
    """Run a write; the number of rows it touched (-1 inside `writes()`: it has not run yet)."""
    held = getattr(_held, "writes", None)
    if held is not None:
        held.append((sql, list(params)))
        return -1
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@contextlib.contextmanager
def writes() -> Iterator[None]:
    """The writes made inside through this module (`execute`, `insert`, `insert_values`) go
    to PostgreSQL as one statement when the block ends: each but the last in a WITH clause,
    where every one runs once, to completion, in an order PostgreSQL chooses. Each statement costs
    the client more than the database on the hot path; a routed create makes five writes.

    Only for writes that touch different rows and read nothing of each other's: the parts of
    one statement see the same snapshot (foreign keys between them are checked at its end, so
    a row and the rows that refer to it may be written together). A read through this module
    sends what is held first. Statements made any other way (the ORM) are not held: none may
    run inside. On an error inside, nothing held is sent (the transaction rolls back). SQLite,
    or a block inside another: each write runs at once / with the outer block."""
    if not is_postgres() or getattr(_held, "writes", None) is not None:
        yield
        return
    _held.writes = []
    try:
        yield
        _send_held()
    finally:
        _held.writes = None


def _send_held() -> None:
    held = getattr(_held, "writes", None)
    if not held:
        return
    _held.writes = None
    try:
        text = held[-1][0]
        if len(held) > 1:
            parts = ", ".join(
                f"w{n} AS ({statement})" for n, (statement, _) in enumerate(held[:-1])
            )
            text = f"WITH {parts} {text}"
        execute(text, [value for _, params in held for value in params])
    finally:
        _held.writes = []


def pipeline():
    """Statements sent inside go out without waiting for each one's answer (psycopg's pipeline
    mode): a run of writes costs one round trip, not one each. A statement whose rows are read
    waits for everything sent before it. Only inside `transaction.atomic()`: an error surfaces
    at the next read or at the end of the block, and rolls the whole transaction back. SQLite:
    a plain block."""
    if not is_postgres():
        return contextlib.nullcontext()
    connection.ensure_connection()
    return connection.connection.pipeline()


def marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def lock_clause(clause: str) -> str:
    """A row-locking clause where the database has row locks; SQLite runs one writer at a time
    and has none."""
    return f" {clause}" if is_postgres() else ""


def list_agg(expression: str) -> str:
    """The values of `expression` over a group, joined by commas (as text)."""
    if is_postgres():
        return f"string_agg(({expression})::text, ',')"
    return f"group_concat({expression}, ',')"


def ids_from(joined: str | None) -> set[int]:
    """The ids `list_agg` joined."""
    return {int(value) for value in joined.split(",")} if joined else set()


def db_value(model: type[Model], name: str, value):
    """A Python value as the database stores it in the model's field (uuid, datetime, ...)."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def insert_values(model: type[Model], columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT rows of values, already as the database stores them, in one statement (the
    columns not named take their database defaults)."""
    row = f"({marks(len(columns))})"
    execute(
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"VALUES {', '.join([row] * len(rows))}",
        [value for values in rows for value in values],
    )


def insert(objs: list[Model], *, returning: bool = True) -> None:
    """INSERT model instances of one model in one statement, as `save(force_insert=True)`
    would write them (field defaults and `auto_now_add` applied to the instances). An
    automatic primary key given on every instance is written; otherwise it is read back onto
    each instance, unless `returning=False` (nothing to wait for: in a `pipeline()`, no round
    trip)."""
    if not objs:
        return
    meta = objs[0]._meta
    auto = meta.pk if meta.pk.get_internal_type() in ("AutoField", "BigAutoField") else None
    if auto is not None and all(obj.pk is not None for obj in objs):
        auto = None  # ids given (allocated beforehand): written like any other column
    fields = [f for f in meta.concrete_fields if f is not auto]
    values = []
    for obj in objs:
        for field in fields:
            values.append(field.get_db_prep_save(field.pre_save(obj, add=True), connection))
    row = f"({marks(len(fields))})"
    sql = (
        f"INSERT INTO {meta.db_table} ({', '.join(f.column for f in fields)}) "
        f"VALUES {', '.join([row] * len(objs))}"
    )
    if auto is None or not returning:
        execute(sql, values)
    else:
        returned = rows(sql + f" RETURNING {auto.column}", values)
        for obj, (pk,) in zip(objs, returned, strict=True):
            obj.pk = pk
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias
