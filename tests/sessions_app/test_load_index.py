"""An agent's load is counted through the agent-led standing-offer index, never by reading every
standing offer through the one-per-session unique index (whose predicate used to match the load
count's, so the two tied whenever the statistics were stale: one routing run in five)."""

import pytest
from django.db import connection, transaction

from sessions_app.models import Offer
from sessions_app.routing.pool import _load_sql

pytestmark = pytest.mark.django_db(transaction=True)

UNIQUE = "one_standing_offer_per_session"


def plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def drop_agent_led_indexes() -> None:
    """Inside the caller's transaction (rolled back): every offer index that leads with the
    agent, and sequential scans priced out, so the planner takes any other index it may."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [Offer._meta.db_table, "%(agent_id%"],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET LOCAL enable_seqscan = off")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_the_per_session_unique_index_cannot_serve_an_agents_load(make_agent):
    agent = make_agent()
    load = f"SELECT {_load_sql('a')} FROM agents_app_agent a WHERE a.id = {agent.pk}"
    by_session = (
        f"SELECT id FROM {Offer._meta.db_table} "
        "WHERE session_id = '00000000-0000-0000-0000-000000000000' AND outcome = ''"
    )
    with transaction.atomic():
        # Given no agent-led index to count standing offers with
        drop_agent_led_indexes()
        # Then the load is still not counted by reading every standing offer through the
        # per-session unique index
        assert UNIQUE not in plan(load), plan(load)
        # while a standing offer looked up by its session still uses it
        assert UNIQUE in plan(by_session), plan(by_session)
        transaction.set_rollback(True)
