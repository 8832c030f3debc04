"""Timestamps come back from PostgreSQL exactly as written, aware and in UTC, read by psycopg's
compiled loader (core/pgtypes.py) rather than Django's Python one."""

import datetime
import zoneinfo

import pytest
from django.db import connection
from psycopg.pq import Format

from core.pgtypes import compiled_loader
from sessions_app.models import ChatSession

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's loaders"),
]

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
INSTANTS = [
    datetime.datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=datetime.UTC),  # before a DST jump
    datetime.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN),  # an hour that happens twice
    datetime.datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=datetime.UTC),  # before the epoch
    datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC),
]


@pytest.mark.skipif(compiled_loader() is None, reason="psycopg without its compiled extension")
def test_a_new_connection_reads_timestamps_with_the_compiled_loader():
    connection.close()
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, Format.TEXT)
    assert loader.timezone is datetime.UTC  # so Django registers nothing per cursor
    instance = loader(1184, connection.connection)
    assert isinstance(instance.load.__self__, compiled_loader())  # parsed in C, no frame between


@pytest.mark.parametrize("instant", INSTANTS, ids=["dst", "twice", "pre-epoch", "far"])
def test_a_timestamp_reads_back_as_the_same_instant_in_utc(make_session, instant):
    session, _ = make_session()
    ChatSession.objects.filter(pk=session.pk).update(overflow_at=instant)
    read = ChatSession.objects.values_list("overflow_at", flat=True).get(pk=session.pk)
    # (Compared in UTC: Python never calls an hour that happens twice equal across zones.)
    assert read == instant.astimezone(datetime.UTC)
    assert read.tzinfo is datetime.UTC
    assert read.isoformat() == instant.astimezone(datetime.UTC).isoformat()
