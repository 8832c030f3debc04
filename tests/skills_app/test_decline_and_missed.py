"""Decline, and the agent set away after missing offers in a row; status reasons."""

import pytest

from agents_app.actions.settings import service_settings_update
from agents_app.actions.status import agent_set_status
from core.errors import Conflict, NotFound
from sessions_app.actions.create import session_create
from sessions_app.actions.offers import offer_accept, offer_decline, offer_expire
from sessions_app.models import Offer, SessionEvent, SessionState
from tests.conftest import offered_to, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def new(group=None, name="Customer"):
    return session_create(
        customer_name=name, message="Hi", skill_group=group.pk if group else None
    )[0]


def standing(session) -> Offer | None:
    return Offer.objects.standing().filter(session=session).first()


def test_a_decline_moves_the_session_to_the_next_agent_at_once(manual, make_agent, make_group):
    first, second = make_agent(), make_agent()
    billing = make_group("Billing", {first: 1, second: 2})
    session = new(billing)
    offer = standing(session)
    assert offer.agent_id == first.pk
    # When the first agent declines, the offer ends declined and the second one has it
    offer_decline(session_id=session.pk, agent=first)
    offer.refresh_from_db()
    assert offer.outcome == "declined" and offer.resolved_at is not None
    assert standing(session).agent_id == second.pk
    assert SessionEvent.objects.filter(session=session, kind="offer.declined").count() == 1
    # And the decline counts as missed: the decliner is skipped while another is eligible
    chosen = SessionEvent.objects.filter(session=session, kind="routing.chosen").last()
    assert chosen.data["missed_this_session"] == [str(first.pk)]


def test_a_session_declined_by_the_only_agent_is_offered_to_it_again(manual, make_agent):
    only = make_agent()
    session = new()
    first = standing(session)
    offer_decline(session_id=session.pk, agent=only)
    again = standing(session)
    assert again.agent_id == only.pk and again.pk != first.pk
    chosen = SessionEvent.objects.filter(session=session, kind="routing.chosen").last()
    assert chosen.data["reoffered_to_missed"] is True


def test_only_the_offered_agent_may_decline_and_only_while_the_offer_stands(
    manual, make_agent, clock
):
    offered, stranger = make_agent(), make_agent(status="offline")
    session = new()
    with pytest.raises(NotFound):
        offer_decline(session_id=session.pk, agent=stranger)
    offer_accept(session_id=session.pk, agent=offered)
    with pytest.raises(Conflict) as refused:
        offer_decline(session_id=session.pk, agent=offered)
    assert refused.value.code == "already_accepted"
    other = new()
    clock.advance(31)
    with pytest.raises(Conflict) as late:
        offer_decline(session_id=other.pk, agent=offered)
    assert late.value.code == "offer_expired"


def test_after_n_offers_in_a_row_expire_the_agent_is_set_away_and_told(manual, make_agent, clock):
    service_settings_update(missed_offers_before_away=2)
    sleepy = make_agent(max_sessions=5)
    # One missed offer: still online
    first = new()
    clock.advance(31)
    offer_expire(offer_id=standing(first).pk)
    sleepy.refresh_from_db()
    assert sleepy.status == "online"
    # A second one in a row, with another offer standing meanwhile: away, that offer withdrawn
    second, third = new(), new()
    assert standing(third).agent_id == sleepy.pk
    clock.advance(31)
    offer_expire(offer_id=standing(second).pk)
    sleepy.refresh_from_db()
    assert (sleepy.status, sleepy.status_reason) == ("away", "missed_offers")
    assert not Offer.objects.standing().filter(agent=sleepy).exists()
    changed = SessionEvent.objects.filter(kind="agent.status_changed", agent=sleepy).last()
    assert changed.data == {"status": "away", "reason": "missed_offers"}


def test_an_accept_or_a_decline_breaks_the_run_of_missed_offers(manual, make_agent, clock):
    service_settings_update(missed_offers_before_away=2)
    agent = make_agent(max_sessions=5)
    missed = new()
    clock.advance(31)
    offer_expire(offer_id=standing(missed).pk)  # 1 (and offered to it again: the only one)
    offer_decline(session_id=missed.pk, agent=agent)  # a decline: the run starts over
    offer_accept(session_id=missed.pk, agent=agent)
    other = new()
    clock.advance(31)
    offer_expire(offer_id=standing(other).pk)  # 1 again
    agent.refresh_from_db()
    assert agent.status == "online"


def test_missed_offers_before_away_zero_never_sets_anyone_away(manual, make_agent, clock):
    agent = make_agent(max_sessions=10)
    for _ in range(3):
        session = new()
        clock.advance(31)
        offer_expire(offer_id=standing(session).pk)
    agent.refresh_from_db()
    assert agent.status == "online"


def test_coming_back_online_starts_the_count_again(manual, make_agent, clock):
    service_settings_update(missed_offers_before_away=1)
    agent = make_agent()
    session = new()
    clock.advance(31)
    offer_expire(offer_id=standing(session).pk)
    agent.refresh_from_db()
    assert agent.status == "away"
    agent_set_status(agent_id=agent.pk, status="online")
    agent.refresh_from_db()
    assert (agent.status, agent.status_reason) == ("online", "")
    # The old miss no longer counts: it is offered the waiting session and stays online
    # (drained after the commit; by the worker's sweep if it held the group's lock)
    wait_until(lambda: offered_to(session) == agent.pk)


def test_an_agent_may_say_why_it_is_away_and_the_reason_goes_with_it_online(make_agent):
    agent = make_agent()
    agent = agent_set_status(agent_id=agent.pk, status="away", reason="lunch")
    assert (agent.status, agent.status_reason) == ("away", "lunch")
    agent = agent_set_status(agent_id=agent.pk, status="away", reason="meeting")
    assert agent.status_reason == "meeting"
    agent = agent_set_status(agent_id=agent.pk, status="online")
    assert agent.status_reason == ""


def test_deleting_a_group_in_use_is_refused(manual, make_agent, make_group):
    from skills_app.actions import skill_group_delete
    from skills_app.models import SkillGroup
    from skills_app.selectors import default_group

    agent = make_agent()
    billing = make_group("Billing", {agent: 1})
    session = new(billing)
    with pytest.raises(Conflict) as in_use:
        skill_group_delete(group_id=billing.pk)
    assert in_use.value.code == "group_in_use"
    with pytest.raises(Conflict) as default:
        skill_group_delete(group_id=default_group().pk)
    assert default.value.code == "group_in_use"
    # Once its sessions have ended it may go; the ended session keeps its history
    from sessions_app.actions.end import session_end

    session_end(session_id=session.pk, reason="customer_ended")
    skill_group_delete(group_id=billing.pk)
    assert not SkillGroup.objects.filter(pk=billing.pk).exists()
    session.refresh_from_db()
    assert session.state == SessionState.ENDED and session.skill_group_id is None
