"""Accepting an offer: only the offered agent, only before expires_at, only once."""

import pytest

from agents_app.actions.status import agent_set_status
from agents_app.selectors import agent_load
from core.errors import Conflict, NotFound
from sessions_app import selectors
from sessions_app.actions.end import session_end
from sessions_app.actions.offers import offer_accept, offer_expire
from sessions_app.models import Offer, SessionEvent, SessionState

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_offered_agent_accepting_makes_the_session_active(manual, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    accepted = offer_accept(session_id=session.pk, agent=agent)
    assert accepted.state == SessionState.ACTIVE
    assert accepted.agent_id == agent.pk and accepted.accepted_at is not None
    offer = Offer.objects.get(session=session)
    assert offer.outcome == "accepted" and offer.resolved_at is not None
    assert SessionEvent.objects.filter(session=session, kind="offer.accepted").count() == 1
    # Still one unit of load: the offer became the active session
    assert agent_load(agent) == 1


def test_an_agent_never_offered_the_session_gets_not_found(manual, make_agent, make_session):
    make_agent()
    session, _ = make_session()
    stranger = make_agent(status="offline")
    with pytest.raises(NotFound):
        offer_accept(session_id=session.pk, agent=stranger)
    assert selectors.session_get(session.pk).state == SessionState.OFFERED


def test_accepting_after_expires_at_is_refused_even_before_the_timer_ran(
    manual, make_agent, make_session, clock
):
    agent = make_agent()
    session, _ = make_session()
    clock.advance(30)
    with pytest.raises(Conflict) as err:
        offer_accept(session_id=session.pk, agent=agent)
    assert err.value.code == "offer_expired"
    assert Offer.objects.get(session=session).outcome == ""  # the timer resolves it


def test_accepting_an_offer_that_expired_and_moved_on_is_refused(
    manual, make_agent, make_session, clock
):
    first = make_agent()
    session, _ = make_session()
    second = make_agent()
    clock.advance(31)
    offer_expire(offer_id=Offer.objects.get(session=session).pk)
    with pytest.raises(Conflict) as err:
        offer_accept(session_id=session.pk, agent=first)
    assert err.value.code == "offer_expired"
    # The agent it moved to may still accept
    assert offer_accept(session_id=session.pk, agent=second).agent_id == second.pk


def test_accepting_a_withdrawn_offer_is_refused(manual, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    agent_set_status(agent_id=agent.pk, status="away")
    with pytest.raises(Conflict) as err:
        offer_accept(session_id=session.pk, agent=agent)
    assert err.value.code == "offer_withdrawn"
    assert selectors.session_get(session.pk).state == SessionState.QUEUED


def test_accepting_twice_is_refused(manual, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    offer_accept(session_id=session.pk, agent=agent)
    with pytest.raises(Conflict) as err:
        offer_accept(session_id=session.pk, agent=agent)
    assert err.value.code == "already_accepted"


def test_accepting_an_ended_session_is_refused(manual, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    session_end(session_id=session.pk, reason="customer_ended")
    with pytest.raises(Conflict) as err:
        offer_accept(session_id=session.pk, agent=agent)
    assert err.value.code == "session_ended"


def test_accepting_an_active_session_of_another_agent_is_not_found(
    manual, make_agent, make_session
):
    owner = make_agent()
    session, _ = make_session()
    offer_accept(session_id=session.pk, agent=owner)
    other = make_agent()
    with pytest.raises(NotFound):
        offer_accept(session_id=session.pk, agent=other)


def test_accepting_an_unknown_session_is_not_found(manual, make_agent):
    agent = make_agent()
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        with pytest.raises(NotFound):
            offer_accept(session_id=bad, agent=agent)
