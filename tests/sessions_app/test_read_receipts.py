"""Read receipts: marks move only forward, stamp only the other side's messages, and are
the reader's to give."""

import pytest

from core.errors import NotFound
from sessions_app.actions.messages import message_send, messages_read
from sessions_app.actions.offers import offer_accept
from sessions_app.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def say(session, sender, body, agent=None) -> Message:
    return message_send(session_id=session.pk, sender=sender, body=body, agent=agent)


def read_ats(session, sender) -> list:
    return list(
        Message.objects.filter(session=session, sender=sender)
        .order_by("created_at", "pk")
        .values_list("read_at", flat=True)
    )


def test_an_agents_mark_stamps_the_customers_messages_up_to_it_and_never_goes_back(
    manual, make_agent, make_session
):
    alice = make_agent()
    session, _ = make_session(message="one")
    offer_accept(session_id=session.pk, agent=alice)
    say(session, "customer", "two")
    third = say(session, "customer", "three")
    reply = say(session, "agent", "hi", agent=alice)
    second = Message.objects.get(session=session, body="two")
    # Reading up to "two" stamps "one" and "two", not "three"
    assert messages_read(session_id=session.pk, reader="agent", message_id=second.pk, agent=alice)
    stamps = read_ats(session, "customer")
    assert stamps[0] and stamps[1] and stamps[2] is None
    # An older or repeated mark changes nothing
    first = Message.objects.get(session=session, body="one")
    assert (
        messages_read(session_id=session.pk, reader="agent", message_id=first.pk, agent=alice) == 0
    )
    assert read_ats(session, "customer") == stamps
    # Marking up to the agent's own reply covers "three" (before it), never the reply itself
    assert (
        messages_read(session_id=session.pk, reader="agent", message_id=reply.pk, agent=alice) == 1
    )
    assert all(read_ats(session, "customer")) and read_ats(session, "agent") == [None]
    assert third.pk  # "three" was the one marked last


def test_a_customers_mark_stamps_the_agents_messages_and_not_system_notices(
    manual, make_agent, make_session
):
    alice = make_agent()
    session, _ = make_session(message="hello")
    offer_accept(session_id=session.pk, agent=alice)
    reply = say(session, "agent", "How can I help?", agent=alice)
    Message.objects.create(session=session, sender="system", body="A notice")
    assert messages_read(session_id=session.pk, reader="customer", message_id=reply.pk) == 1
    assert read_ats(session, "agent")[0] is not None
    assert read_ats(session, "system") == [None]
    assert read_ats(session, "customer") == [None]


def test_only_the_serving_agent_marks_and_only_messages_of_that_chat(
    manual, make_agent, make_session
):
    alice, bob = make_agent(), make_agent()
    session, _ = make_session(message="mine")
    offer_accept(session_id=session.pk, agent=alice)
    other, _ = make_session(message="other")
    mine = Message.objects.get(session=session)
    elsewhere = Message.objects.get(session=other)
    with pytest.raises(NotFound):
        messages_read(session_id=session.pk, reader="agent", message_id=mine.pk, agent=bob)
    for bad in (elsewhere.pk, "nope", 99_999_999, None):
        with pytest.raises(NotFound):
            messages_read(session_id=session.pk, reader="agent", message_id=bad, agent=alice)
    assert read_ats(session, "customer") == [None]
