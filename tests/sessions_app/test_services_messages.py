"""Messages from customers and agents, and the customer-idle timer they start and stop."""

from datetime import timedelta

import pytest

from agents_app.selectors import service_settings
from core.errors import Conflict, Invalid, NotFound
from sessions_app import selectors
from sessions_app.actions.end import session_end
from sessions_app.actions.messages import message_send, session_idle_end
from sessions_app.actions.offers import offer_accept
from sessions_app.models import SessionEvent, SessionState
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def active(manual, make_agent, make_session):
    """An active session and its agent."""
    agent = make_agent()
    session, _ = make_session()
    return offer_accept(session_id=session.pk, agent=agent), agent


def bodies(session) -> list[tuple[str, str]]:
    return list(selectors.session_messages(session).values_list("sender", "body"))


def test_a_customer_may_write_while_queued_offered_and_active(manual, make_agent, make_session):
    queued, _ = make_session(message=None)
    message_send(session_id=queued.pk, sender="customer", body="still there?")
    agent = make_agent()  # (its drain runs after the commit, or the worker's sweep routes it)
    wait_until(lambda: selectors.session_get(queued.pk).state == SessionState.OFFERED, timeout=5)
    offered = selectors.session_get(queued.pk)
    message_send(session_id=offered.pk, sender="customer", body="hello?")
    offer_accept(session_id=offered.pk, agent=agent)
    message_send(session_id=offered.pk, sender="customer", body="hi!")
    assert [b for _, b in bodies(offered)] == ["still there?", "hello?", "hi!"]


def test_an_agent_writes_only_in_an_active_session_it_serves(manual, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    with pytest.raises(Conflict) as err:  # offered, not yet accepted
        message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    assert err.value.code == "not_active"
    offer_accept(session_id=session.pk, agent=agent)
    message = message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    assert selectors.message_dict(message)["sender"] == "agent"
    other = make_agent()
    with pytest.raises(NotFound):
        message_send(session_id=session.pk, sender="agent", body="Hi", agent=other)


@pytest.mark.parametrize("body", ["", "   ", "x" * 4001, None, 42])
def test_a_bad_body_is_refused(active, body):
    session, _agent = active
    with pytest.raises(Invalid) as err:
        message_send(session_id=session.pk, sender="customer", body=body)
    assert err.value.field == "body"


def test_a_body_is_trimmed_and_may_be_4000_characters(active):
    session, _agent = active
    message_send(session_id=session.pk, sender="customer", body="  " + "x" * 4000 + " ")
    assert bodies(session)[-1] == ("customer", "x" * 4000)


def test_no_one_writes_to_an_ended_session(active):
    session, agent = active
    session_end(session_id=session.pk, reason="customer_ended")
    for sender, who in (("customer", None), ("agent", agent)):
        with pytest.raises(Conflict) as err:
            message_send(session_id=session.pk, sender=sender, body="hi", agent=who)
        assert err.value.code == "session_ended"


def test_an_agent_message_starts_the_idle_timer_and_the_next_one_restarts_it(active, clock):
    session, agent = active
    message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    first = selectors.session_get(session.pk)
    assert first.idle_timeout_seconds == 300
    assert first.idle_deadline == first.last_activity_at + timedelta(seconds=300)
    clock.advance(10)
    message_send(session_id=session.pk, sender="agent", body="Still?", agent=agent)
    second = selectors.session_get(session.pk)
    assert second.idle_deadline - first.idle_deadline >= timedelta(seconds=10)


def test_a_customer_message_stops_the_idle_timer(active):
    session, agent = active
    message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    message_send(session_id=session.pk, sender="customer", body="Here")
    assert selectors.session_get(session.pk).idle_deadline is None


def test_idle_end_posts_the_notice_and_ends_the_session(active, clock):
    session, agent = active
    message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    deadline = selectors.session_get(session.pk).idle_deadline
    clock.advance(300)
    assert session_idle_end(session_id=session.pk, deadline=deadline) is True
    ended = selectors.session_get(session.pk)
    assert ended.state == SessionState.ENDED
    assert ended.end_reason == "customer_idle_timeout" and ended.idle_deadline is None
    notice = service_settings().idle_end_notice
    assert bodies(session)[-1] == ("system", notice)
    assert SessionEvent.objects.filter(session=session, kind="session.idle_timeout").count() == 1
    # Firing again changes nothing
    assert session_idle_end(session_id=session.pk, deadline=deadline) is False
    assert bodies(session).count(("system", notice)) == 1


def test_idle_end_before_the_deadline_does_nothing(active):
    session, agent = active
    message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    deadline = selectors.session_get(session.pk).idle_deadline
    assert session_idle_end(session_id=session.pk, deadline=deadline) is False
    assert selectors.session_get(session.pk).state == SessionState.ACTIVE


def test_idle_end_for_a_moved_deadline_does_nothing(active, clock):
    # Given a task scheduled for the first agent message's deadline
    session, agent = active
    message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    old = selectors.session_get(session.pk).idle_deadline
    clock.advance(200)
    message_send(session_id=session.pk, sender="agent", body="Hello?", agent=agent)
    # When the old task fires at its deadline, the session stays: its timer was restarted
    clock.advance(100)
    assert session_idle_end(session_id=session.pk, deadline=old) is False
    assert selectors.session_get(session.pk).state == SessionState.ACTIVE


def test_idle_end_after_a_customer_reply_does_nothing(active, clock):
    session, agent = active
    message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    deadline = selectors.session_get(session.pk).idle_deadline
    message_send(session_id=session.pk, sender="customer", body="Here")
    clock.advance(400)
    assert session_idle_end(session_id=session.pk, deadline=deadline) is False
    assert selectors.session_get(session.pk).state == SessionState.ACTIVE


def test_the_idle_timeout_is_copied_when_the_timer_starts(active, clock):
    from agents_app.actions.settings import service_settings_update

    session, agent = active
    message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    service_settings_update(customer_idle_timeout_seconds=5, idle_end_notice="Bye for now.")
    clock.advance(10)
    assert session_idle_end(session_id=session.pk) is False  # still 300 s
    message_send(session_id=session.pk, sender="agent", body="Hi?", agent=agent)
    clock.advance(6)
    assert session_idle_end(session_id=session.pk) is True
    assert bodies(session)[-1] == ("system", "Bye for now.")


def test_an_unknown_sender_is_refused(active):
    session, _agent = active
    with pytest.raises(Invalid):
        message_send(session_id=session.pk, sender="system", body="hi")


def test_idle_end_for_an_unknown_or_malformed_session_does_nothing(manual):
    from django.utils import timezone

    for bad in ("00000000-0000-0000-0000-000000000000", "nope"):
        assert session_idle_end(session_id=bad, deadline=timezone.now()) is False
        assert session_idle_end(session_id=bad) is False
