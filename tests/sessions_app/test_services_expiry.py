"""Offer expiry and withdrawal: the session moves on, never back to who missed it if avoidable."""

import pytest

from agents_app.actions.agents import agent_update
from agents_app.actions.settings import service_settings_update
from agents_app.actions.status import agent_set_status
from sessions_app import selectors
from sessions_app.actions.end import session_end
from sessions_app.actions.messages import message_send
from sessions_app.actions.offers import ExpireResult, offer_accept, offer_expire, offers_expire_due
from sessions_app.actions.sweep import timers_sweep
from sessions_app.models import Offer, SessionEvent, SessionState
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def standing(session) -> Offer | None:
    return Offer.objects.filter(session=session, outcome="").first()


def test_offer_expiry_moves_session_to_next_agent(manual, make_agent, make_session, clock):
    # Given a session offered to one of two agents
    first, second = make_agent(), make_agent()
    session, _ = make_session()
    offer = standing(session)
    missed = first if offer.agent_id == first.pk else second
    other = second if missed is first else first
    # When the deadline passes and the timer fires
    clock.advance(30)
    assert offer_expire(offer_id=offer.pk) is ExpireResult.EXPIRED
    # Then the old offer is expired and the other agent holds a fresh one
    offer.refresh_from_db()
    assert offer.outcome == "expired" and offer.resolved_at is not None
    new = standing(session)
    assert new.agent_id == other.pk and new.pk != offer.pk
    assert selectors.session_get(session.pk).state == SessionState.OFFERED
    chosen = SessionEvent.objects.filter(session=session, kind="routing.chosen").last()
    assert chosen.data["missed_this_session"] == [str(missed.pk)]


def test_the_agent_who_missed_it_is_skipped_even_when_least_loaded(
    manual, make_agent, make_session, clock
):
    # Given the missing agent idle and the other one busier
    missed, busy = make_agent(), make_agent(status="offline")
    session, _ = make_session()
    assert standing(session).agent_id == missed.pk
    agent_set_status(agent_id=busy.pk, status="online")
    make_session()  # busy now holds one offer, missed holds one
    clock.advance(31)
    offer_expire(offer_id=standing(session).pk)
    # Then the busier agent gets it rather than the one who let it expire
    assert standing(session).agent_id == busy.pk


def test_when_only_the_agent_who_missed_it_is_eligible_it_is_offered_again(
    manual, make_agent, make_session, clock
):
    agent = make_agent()
    session, _ = make_session()
    first = standing(session)
    clock.advance(30)
    offer_expire(offer_id=first.pk)
    again = standing(session)
    assert again.agent_id == agent.pk and again.pk != first.pk
    assert (
        SessionEvent.objects.filter(session=session, kind="routing.chosen")
        .last()
        .data["reoffered_to_missed"]
    )


def test_when_no_one_is_eligible_the_session_waits_in_the_queue_until_someone_is(
    auto, make_agent, make_session, clock
):
    # Given an agent serving one chat and offered another, whose capacity is then lowered
    agent = make_agent(max_sessions=2)
    serving, _ = make_session()
    service_settings_update(service_mode="manual")
    session, _ = make_session()
    agent_update(agent_id=agent.pk, max_sessions=1)
    # When the offer expires, no one has room: the session waits in the queue
    clock.advance(30)
    offer_expire(offer_id=standing(session).pk)
    assert selectors.session_get(session.pk).state == SessionState.QUEUED
    assert SessionEvent.objects.filter(session=session, kind="routing.queued").last().data[
        "at_capacity"
    ] == [str(agent.pk)]
    # And when the agent's chat ends, it is offered again (by this drain, or at once by a
    # router that held the group's lock meanwhile: the suite's worker sweeps the same group)
    session_end(session_id=serving.pk, agent=agent, reason="agent_ended")
    assert wait_until(lambda: (o := standing(session)) and o.agent_id == agent.pk, timeout=5)


def test_an_expired_offer_frees_the_slot_for_the_oldest_session_first(
    manual, make_agent, make_session, clock
):
    agent = make_agent(max_sessions=1)
    session, _ = make_session()
    waiting, _ = make_session()
    assert waiting.state == SessionState.QUEUED
    clock.advance(30)
    offer_expire(offer_id=standing(session).pk)
    # The older session is offered again (its agent is the only one); the newer keeps waiting
    assert standing(session).agent_id == agent.pk
    assert selectors.session_get(waiting.pk).state == SessionState.QUEUED


def test_expiry_before_the_deadline_changes_nothing(manual, make_agent, make_session):
    make_agent()
    session, _ = make_session()
    offer = standing(session)
    assert offer_expire(offer_id=offer.pk) is ExpireResult.NOT_DUE
    offer.refresh_from_db()
    assert offer.outcome == ""


def test_expiry_firing_twice_resolves_the_offer_once(manual, make_agent, make_session, clock):
    make_agent()
    make_agent()
    session, _ = make_session()
    offer = standing(session)
    clock.advance(30)
    assert offer_expire(offer_id=offer.pk) is ExpireResult.EXPIRED
    assert offer_expire(offer_id=offer.pk) is ExpireResult.GONE
    assert SessionEvent.objects.filter(session=session, kind="offer.expired").count() == 1
    assert Offer.objects.filter(session=session).count() == 2


def test_expiry_of_an_accepted_or_unknown_offer_does_nothing(
    manual, make_agent, make_session, clock
):
    agent = make_agent()
    session, _ = make_session()
    offer = standing(session)
    offer_accept(session_id=session.pk, agent=agent)
    clock.advance(60)
    assert offer_expire(offer_id=offer.pk) is ExpireResult.GONE
    assert offer_expire(offer_id=987654321) is ExpireResult.GONE
    assert selectors.session_get(session.pk).state == SessionState.ACTIVE


def test_going_away_withdraws_standing_offers_at_once_and_reroutes(
    manual, make_agent, make_session
):
    leaving = make_agent()
    session, _ = make_session()
    staying = make_agent()
    agent_set_status(agent_id=leaving.pk, status="away")
    offers = list(Offer.objects.filter(session=session).order_by("pk"))
    assert [o.outcome for o in offers] == ["withdrawn", ""]
    assert offers[1].agent_id == staying.pk


def test_going_offline_keeps_active_sessions(manual, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    offer_accept(session_id=session.pk, agent=agent)
    agent_set_status(agent_id=agent.pk, status="offline")
    found = selectors.session_get(session.pk)
    assert found.state == SessionState.ACTIVE and found.agent_id == agent.pk


def test_the_sweep_resolves_overdue_offers_and_idle_timers(manual, make_agent, make_session, clock):
    agent = make_agent()
    offered, _ = make_session()
    active, _ = make_session()
    offer_accept(session_id=active.pk, agent=agent)
    message_send(session_id=active.pk, sender="agent", body="Anyone?", agent=agent)
    clock.advance(manual.customer_idle_timeout_seconds + 1)
    found = timers_sweep(now=clock.now())
    assert found["offers_expired"] == 1 and found["idle_ended"] == 1
    assert selectors.session_get(active.pk).end_reason == "customer_idle_timeout"
    assert standing(offered).agent_id == agent.pk  # offered again: the only one eligible
    # A second sweep finds nothing left to do
    assert timers_sweep(now=clock.now())["offers_expired"] == 0


def test_one_expiry_also_resolves_every_other_overdue_offer_once(
    manual, make_agent, make_session, clock
):
    # Given three offers past their deadlines (their tasks not yet run)
    make_agent(max_sessions=3)
    make_agent(max_sessions=3)
    sessions = [make_session()[0] for _ in range(3)]
    offers = [standing(s) for s in sessions]
    clock.advance(31)
    # When the first task fires, the others are expired in the same pass
    assert offer_expire(offer_id=offers[0].pk) is ExpireResult.EXPIRED
    for offer in offers:
        offer.refresh_from_db()
        assert offer.outcome == "expired"
    # And their own tasks, firing later, find nothing to do
    for offer in offers[1:]:
        assert offer_expire(offer_id=offer.pk) is ExpireResult.GONE
    for session, offer in zip(sessions, offers, strict=True):
        assert SessionEvent.objects.filter(session=session, kind="offer.expired").count() == 1
        assert standing(session).agent_id != offer.agent_id  # moved to the other agent


def test_offers_made_in_one_pass_expire_together_except_those_accepted_meanwhile(
    manual, make_agent, make_session, clock
):
    # Given three sessions offered in one routing pass (an agent coming online)
    sessions = [make_session()[0] for _ in range(3)]
    agent = make_agent(max_sessions=3)
    offers = [standing(s) for s in sessions]
    assert len({o.expires_at for o in offers}) == 1
    ids = [o.pk for o in offers]
    assert offers_expire_due() == 0  # not due yet
    offer_accept(session_id=sessions[0].pk, agent=agent)
    # When their shared deadline passes, one tick's pass takes them together
    clock.advance(30)
    assert offers_expire_due() == 2
    # Then the accepted one stays, the others are expired (and offered again: the only agent)
    outcomes = [Offer.objects.get(pk=pk).outcome for pk in ids]
    assert outcomes == ["accepted", "expired", "expired"]
    assert all(standing(s).agent_id == agent.pk for s in sessions[1:])
    assert offers_expire_due() == 0
