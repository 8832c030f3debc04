"""Ending a session: by its agent, its customer or staff; once only."""

import pytest

from agents_app.selectors import agent_load
from core.errors import Conflict, Invalid, NotFound
from sessions_app import selectors
from sessions_app.actions.end import session_end
from sessions_app.actions.offers import offer_accept
from sessions_app.models import Offer, SessionEvent, SessionState
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_agent_ends_its_active_session_and_the_slot_goes_to_the_queue(
    auto, make_agent, make_session
):
    agent = make_agent(max_sessions=1)
    session, _ = make_session()
    waiting, _ = make_session()
    ended = session_end(session_id=session.pk, agent=agent, reason="agent_ended")
    assert ended.state == SessionState.ENDED and ended.end_reason == "agent_ended"
    assert ended.ended_at is not None and ended.agent_id == agent.pk
    # Routed by this call's drain, or (when a live worker from earlier tests held the routing
    # lock at that moment) by that router's next pass: either way at once.
    wait_until(lambda: selectors.session_get(waiting.pk).state == SessionState.ACTIVE, 5)
    event = SessionEvent.objects.get(session=session, kind="session.ended")
    assert event.data == {"reason": "agent_ended", "previous_state": "active"}


@pytest.mark.parametrize("state", ["queued", "offered", "active"])
def test_the_customer_may_end_in_any_open_state(manual, make_agent, make_session, state):
    agent = make_agent(status="online" if state != "queued" else "offline")
    session, _ = make_session()
    if state == "active":
        offer_accept(session_id=session.pk, agent=agent)
    assert selectors.session_get(session.pk).state == state
    ended = session_end(session_id=session.pk, reason="customer_ended")
    assert ended.state == SessionState.ENDED and ended.end_reason == "customer_ended"
    assert not Offer.objects.filter(session=session, outcome="").exists()
    assert agent_load(agent) == 0


def test_ending_an_offered_session_withdraws_the_offer(manual, make_agent, make_session):
    make_agent()
    session, _ = make_session()
    session_end(session_id=session.pk, reason="staff_ended")
    assert Offer.objects.get(session=session).outcome == "withdrawn"


def test_staff_end_any_session(auto, make_agent, make_session):
    make_agent()
    session, _ = make_session()
    ended = session_end(session_id=session.pk, reason="staff_ended")
    assert ended.end_reason == "staff_ended"


def test_another_agent_cannot_end_the_session(auto, make_agent, make_session):
    make_agent()
    session, _ = make_session()
    other = make_agent(status="away")
    with pytest.raises(NotFound):
        session_end(session_id=session.pk, agent=other, reason="agent_ended")
    assert selectors.session_get(session.pk).state == SessionState.ACTIVE


def test_the_offered_agent_must_accept_before_ending(manual, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    with pytest.raises(Conflict) as err:
        session_end(session_id=session.pk, agent=agent, reason="agent_ended")
    assert err.value.code == "not_active"


def test_ending_twice_is_a_conflict(auto, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    session_end(session_id=session.pk, reason="customer_ended")
    for reason, who in (("customer_ended", None), ("staff_ended", None), ("agent_ended", agent)):
        with pytest.raises(Conflict) as err:
            session_end(session_id=session.pk, agent=who, reason=reason)
        assert err.value.code == "session_ended"
    assert SessionEvent.objects.filter(session=session, kind="session.ended").count() == 1


@pytest.mark.parametrize("reason", ["customer_idle_timeout", "bored", ""])
def test_an_end_reason_callers_may_not_give_is_refused(auto, make_agent, make_session, reason):
    session, _ = make_session()
    with pytest.raises(Invalid):
        session_end(session_id=session.pk, reason=reason)


def test_ending_an_unknown_session_is_not_found(manual):
    with pytest.raises(NotFound):
        session_end(session_id="00000000-0000-0000-0000-000000000000", reason="staff_ended")


def test_ending_a_queued_session_moves_the_others_up(manual, make_session):
    first, _ = make_session()
    second, _ = make_session()
    session_end(session_id=first.pk, reason="customer_ended")
    assert selectors.queue_position(selectors.session_get(second.pk)) == 1
