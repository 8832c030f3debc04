"""PostgreSQL `timestamptz` read by psycopg's compiled loader, not Django's Python one.

Django registers a loader of its own for `timestamptz` (a Python subclass of psycopg's, which
parses each value with a regular expression and then replaces its tzinfo), so that values come
back in the connection's configured zone. With `USE_TZ` and no per-database `TIME_ZONE`, that
zone is UTC, which Django also sets on every connection, and psycopg's compiled loader already
returns values in the connection's zone with `datetime.timezone.utc` itself: the same values,
parsed in C. A chat session has eight timestamp columns; under load, the Python loader was one
of the largest single costs in a daphne (bench/load.py --profile).

Applied once per process (sessions_app/apps.py), to the adapters template every connection of
this process copies, and only where the result is the same: psycopg's compiled extension
present, `USE_TZ` on, no per-database `TIME_ZONE`.
"""

import datetime

from django.conf import settings
from django.db import connections


def compiled_loader():
    """psycopg's compiled text loader for timestamptz, or None (pure-Python psycopg)."""
    try:
        from psycopg.postgres import adapters
        from psycopg.pq import Format
    except ImportError:
        return None
    loader = adapters.get_loader(1184, Format.TEXT)  # 1184: timestamptz
    return loader if loader is not None and loader.__module__.startswith("psycopg_") else None


def use_fast_timestamptz() -> bool:
    """Register the compiled loader for every PostgreSQL connection of this process. Returns
    whether it did."""
    base = compiled_loader()
    if base is None or not settings.USE_TZ:
        return False
    done = False
    for alias in connections:
        wrapper = connections[alias]
        if wrapper.vendor != "postgresql" or wrapper.settings_dict.get("TIME_ZONE"):
            continue
        from django.db.backends.postgresql.psycopg_any import get_adapters_template
        from psycopg.adapt import Loader

        class UtcTimestamptzLoader(Loader):
            # What Django's create_cursor compares with the connection's zone: equal, so it
            # registers nothing per cursor either.
            timezone = datetime.UTC

            def __init__(self, oid, context=None):
                super().__init__(oid, context)
                # The compiled loader's own bound method: psycopg calls it for each value
                # with no Python frame in between (the compiled type cannot be subclassed).
                self.load = base(oid, context).load

            def load(self, data):  # replaced per instance, above
                raise NotImplementedError

        # The template is cached per (USE_TZ, zone): this is the very map Django hands to
        # every new connection of this process.
        template = get_adapters_template(True, wrapper.timezone)
        template.register_loader("timestamptz", UtcTimestamptzLoader)
        done = True
    return done
