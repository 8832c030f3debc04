"""Routing inside skill groups: priority, ties, overflow, per-group queues, shared agents."""

import pytest

from agents_app.actions.agents import agent_update
from agents_app.selectors import agent_load
from sessions_app import selectors
from sessions_app.actions.create import session_create
from sessions_app.actions.end import session_end
from sessions_app.actions.offers import offer_accept
from sessions_app.actions.overflow import sessions_overflow_due
from sessions_app.actions.sweep import timers_resolve_due
from sessions_app.models import SessionEvent, SessionState
from skills_app.selectors import default_group
from tests.conftest import offered_to, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def new(group, name="Customer"):
    return session_create(customer_name=name, message="Hi", skill_group=group.pk)[0]


def decision(session, kind="routing.chosen"):
    return SessionEvent.objects.filter(session=session, kind=kind).last().data


def test_a_session_without_a_group_goes_to_the_default_group(manual, make_agent):
    agent = make_agent()
    session, _ = session_create(customer_name="Ann", message="Hi")
    assert session.skill_group_id == default_group().pk
    assert selectors.session_dict(session)["skill_group"] == {
        "id": str(default_group().pk),
        "name": "General",
    }
    assert offered_to(session) == agent.pk


def agents_named(data: dict) -> set[str]:
    """Every agent a routing decision lists (away, offline, at capacity, …)."""
    return {str(pk) for value in data.values() if isinstance(value, list) for pk in value}


def test_only_members_of_the_sessions_group_are_offered_it(manual, make_agent, make_group):
    # Given an idle agent outside Billing and a busier one inside it
    outsider, member = make_agent(), make_agent(max_sessions=3)
    billing = make_group("Billing", {member: 3})
    new(billing)
    # When another Billing session comes, it still goes to the member
    session = new(billing)
    assert offered_to(session) == member.pk
    # And the decision names the group; the outsider was never a candidate
    data = decision(session)
    assert (data["group"], data["group_name"]) == (str(billing.pk), "Billing")
    assert str(outsider.pk) not in agents_named(data)


def test_the_best_priority_is_offered_first_then_the_next_when_it_is_full(
    manual, make_agent, make_group
):
    first, second, third = make_agent(max_sessions=1), make_agent(), make_agent()
    group = make_group("Billing", {third: 5, second: 3, first: 1})
    assert [offered_to(new(group)) for _ in range(3)] == [first.pk, second.pk, second.pk]
    data = decision(new(group))
    assert data["at_capacity"] == [str(first.pk)]


def test_equal_priorities_go_to_the_least_loaded_then_the_least_recently_assigned(
    manual, make_agent, make_group
):
    a, b, c = make_agent(), make_agent(), make_agent()
    group = make_group("Billing", {a: 2, b: 2, c: 2})
    order = [offered_to(new(group)) for _ in range(6)]
    # Each round goes to the three in turn: load first, then who was assigned longest ago
    assert sorted(order[:3]) == sorted([a.pk, b.pk, c.pk])
    assert order[3:] == order[:3]


def test_queues_and_positions_are_per_group_and_first_in_first_out(auto, make_agent, make_group):
    # Given one full agent in each of two groups
    x, y = make_agent(max_sessions=1), make_agent(max_sessions=1)
    billing, sales = make_group("Billing", {x: 3}), make_group("Sales", {y: 3})
    served_x, served_y = new(billing), new(sales)
    waiting_b = [new(billing, f"B{i}") for i in range(3)]
    waiting_s = [new(sales, f"S{i}") for i in range(2)]
    # Then positions count only the sessions ahead in the same group
    assert [selectors.session_dict(s)["queue_position"] for s in waiting_b] == [1, 2, 3]
    assert [selectors.session_dict(s)["queue_position"] for s in waiting_s] == [1, 2]
    # When Sales' agent frees a slot, Sales' oldest is served and Billing's line stays
    session_end(session_id=served_y.pk, reason="customer_ended")
    # (drained after the commit; if the worker's sweep holds the group's lock, it routes it)
    wait_until(lambda: selectors.session_get(waiting_s[0].pk).agent_id == y.pk, timeout=5)
    assert selectors.queue_position(selectors.session_get(waiting_s[1].pk)) == 1
    assert all(selectors.session_get(s.pk).state == "queued" for s in waiting_b)
    # And Billing drains in creation order when its agent frees up
    session_end(session_id=served_x.pk, reason="customer_ended")
    wait_until(lambda: selectors.session_get(waiting_b[0].pk).state == "active", timeout=5)
    states = [selectors.session_get(s.pk).state for s in waiting_b]
    assert states == ["active", "queued", "queued"]


def test_an_agent_in_two_groups_at_capacity_is_offered_nothing_more(manual, make_agent, make_group):
    shared = make_agent(max_sessions=2)
    billing, sales = make_group("Billing", {shared: 1}), make_group("Sales", {shared: 1})
    assert offered_to(new(billing)) == shared.pk
    assert offered_to(new(sales)) == shared.pk
    # Full from the two groups together: a third session in either waits
    waiting = new(billing)
    assert waiting.state == SessionState.QUEUED
    assert agent_load(shared) == 2
    assert decision(waiting, "routing.queued")["at_capacity"] == [str(shared.pk)]


def test_overflow_waits_for_its_moment_then_lets_the_overflow_group_take_it(
    manual, make_agent, make_group, clock
):
    # Given Billing's only agent full, overflowing into Sales after 60 s
    busy, helper = make_agent(max_sessions=1), make_agent()
    sales = make_group("Sales", {helper: 3})
    billing = make_group("Billing", {busy: 1}, overflow=sales, after=60)
    offered = new(billing)
    session = new(billing)
    # Before its moment the Sales agent, free as it is, is not eligible
    assert session.state == SessionState.QUEUED
    data = decision(session, "routing.queued")
    assert data["not_a_member"] == [str(helper.pk)] and data["overflow_group"] is None
    clock.advance(59)
    assert sessions_overflow_due() == 0
    assert selectors.session_get(session.pk).state == SessionState.QUEUED
    # After it, the tick marks both unserved sessions overflowed (the one offered to Billing's
    # agent too) and the Sales agent gets the queued one's offer
    clock.advance(1.5)
    assert timers_resolve_due()["overflowed"] == 2
    assert offered_to(offered) == busy.pk
    assert offered_to(session) == helper.pk
    data = decision(session)
    assert data["overflow_group"] == str(sales.pk)
    assert SessionEvent.objects.filter(session=session, kind="session.overflowed").count() == 1


def test_an_overflowed_session_goes_to_its_own_group_first_and_keeps_its_place(
    manual, make_agent, make_group, clock
):
    busy, helper = make_agent(max_sessions=1), make_agent(max_sessions=1)
    sales = make_group("Sales", {helper: 1})
    billing = make_group("Billing", {busy: 5}, overflow=sales, after=10)
    serving = new(billing)
    offer_accept(session_id=serving.pk, agent=busy)
    helper_busy = new(sales)  # the Sales agent is full too
    first, second = new(billing, "First"), new(billing, "Second")
    clock.advance(11)
    sessions_overflow_due()
    # Both wait; the oldest keeps position 1 in Billing's own queue
    assert selectors.queue_position(selectors.session_get(first.pk)) == 1
    # When Billing's agent frees up, it gets the oldest, even though it overflowed (its own
    # group ranks before the overflow group)
    # (Routed by the end's own drain, or, when a live worker's sweep held Billing's routing lock
    # at that moment, by that router's next pass: either way within moments.)
    session_end(session_id=serving.pk, reason="customer_ended")
    assert wait_until(lambda: offered_to(first), 5) == busy.pk
    # And when the Sales agent frees up, it takes the next overflowed Billing session
    session_end(session_id=helper_busy.pk, reason="customer_ended")
    assert wait_until(lambda: offered_to(second), 5) == helper.pk


def test_overflow_is_one_step_only(manual, make_agent, make_group, clock):
    # Billing overflows into Sales, Sales into Support: Billing's sessions never reach Support
    billing_agent, sales_agent, support_agent = (
        make_agent(max_sessions=1),
        make_agent(max_sessions=1),
        make_agent(),
    )
    support = make_group("Support", {support_agent: 1})
    sales = make_group("Sales", {sales_agent: 1}, overflow=support, after=0)
    billing = make_group("Billing", {billing_agent: 1}, overflow=sales, after=0)
    new(billing)
    new(sales)
    clock.advance(1)
    session = new(billing)
    clock.advance(1)
    sessions_overflow_due()
    assert selectors.session_get(session.pk).state == SessionState.QUEUED
    data = decision(session, "routing.queued")
    assert data["overflow_group"] == str(sales.pk)
    assert str(support_agent.pk) not in agents_named(data)


def test_raising_an_agents_capacity_drains_each_of_its_groups(auto, make_agent, make_group):
    shared = make_agent(max_sessions=1)
    billing, sales = make_group("Billing", {shared: 1}), make_group("Sales", {shared: 1})
    new(billing)
    waiting_b, waiting_s = new(billing), new(sales)
    agent_update(agent_id=shared.pk, max_sessions=3)
    for waiting in (waiting_b, waiting_s):  # (drained after the commit, or by the sweep)
        wait_until(lambda w=waiting: selectors.session_get(w.pk).agent_id == shared.pk, timeout=5)


def test_adding_a_member_routes_what_waits_in_that_group(auto, make_agent, make_group):
    from skills_app.actions import skill_group_update

    billing = make_group("Billing", {})
    waiting = new(billing)
    assert waiting.state == SessionState.QUEUED
    agent = make_agent()
    skill_group_update(group_id=billing.pk, members=[{"agent_id": agent.pk, "priority": 2}])
    wait_until(lambda: selectors.session_get(waiting.pk).agent_id == agent.pk, timeout=5)
