"""A routed chat is written in one statement (the session, its first message, the agent's
turn, the offer and the audit rows), and `core.sql.writes` keeps what it holds in order and
whole: a read sends it first, an error sends none of it, a bad reference fails the block."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import sql
from sessions_app.actions.create import session_create
from sessions_app.models import EventKind, Message, Offer, SessionEvent, SessionState

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL"),
]

MESSAGE = Message._meta.db_table


def writes_in(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().startswith(("INSERT", "WITH"))
    ]


def test_a_routed_chat_is_written_whole_in_one_statement(manual, make_agent):
    agent = make_agent()
    started = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        session, _ = session_create(customer_name="Ann", message="My invoice is wrong")
    # One write statement carried everything a routed chat is made of
    assert len(writes_in(queries)) == 1, writes_in(queries)
    assert session.state == SessionState.OFFERED
    offer = Offer.objects.get(session=session)
    assert offer.agent_id == agent.pk and offer.is_standing
    assert list(Message.objects.filter(session=session).values_list("body", flat=True)) == [
        "My invoice is wrong"
    ]
    kinds = list(SessionEvent.objects.filter(session=session).values_list("kind", flat=True))
    assert kinds == [EventKind.SESSION_CREATED, EventKind.ROUTING_CHOSEN, EventKind.OFFER_MADE]
    agent.refresh_from_db()
    assert started <= agent.last_assigned_at <= timezone.now()  # its turn, taken now


def test_a_read_inside_sends_what_is_held_first(make_session):
    session, _ = make_session(message=None)
    with transaction.atomic(), sql.writes():
        sql.execute(
            f"INSERT INTO {MESSAGE} (session_id, sender, body, created_at) "
            "VALUES (%s, 'customer', 'held', now())",
            [session.pk],
        )
        # The read sees the write held before it
        assert sql.one(f"SELECT count(*) FROM {MESSAGE} WHERE session_id = %s", [session.pk]) == (
            1,
        )
        sql.execute(
            f"INSERT INTO {MESSAGE} (session_id, sender, body, created_at) "
            "VALUES (%s, 'customer', 'after', now())",
            [session.pk],
        )
    assert sorted(Message.objects.filter(session=session).values_list("body", flat=True)) == [
        "after",
        "held",
    ]


def test_an_error_inside_sends_nothing_held(make_session):
    session, _ = make_session(message=None)
    with transaction.atomic(), pytest.raises(ValueError), sql.writes():
        sql.execute(
            f"INSERT INTO {MESSAGE} (session_id, sender, body, created_at) "
            "VALUES (%s, 'customer', 'lost', now())",
            [session.pk],
        )
        raise ValueError("the caller changed its mind")
        # The transaction goes on (and commits) without the held write
    assert not Message.objects.filter(session=session).exists()


def test_a_reference_to_nothing_fails_the_whole_block(make_session):
    session, _ = make_session(message=None)
    with pytest.raises(IntegrityError), transaction.atomic(), sql.writes():
        sql.execute(
            f"INSERT INTO {MESSAGE} (session_id, sender, body, created_at) "
            "VALUES (%s, 'customer', 'fine', now())",
            [session.pk],
        )
        sql.execute(
            f"INSERT INTO {MESSAGE} (session_id, sender, body, created_at) "
            "VALUES (%s, 'customer', 'orphan', now())",
            [uuid.uuid4()],
        )
    assert not Message.objects.filter(session=session).exists()
