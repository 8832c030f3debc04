"""A new chat's router reads its pool without locks and locks only the agent it chooses: when
that agent was taken or went away in between, the chat goes to the next best agent, never to
one past capacity or away."""

import threading

import pytest
from django.db import connection

from agents_app.actions.status import agent_set_status
from agents_app.models import Agent
from sessions_app.actions.create import session_create
from sessions_app.models import Offer, SessionEvent
from sessions_app.routing import strategy

pytestmark = pytest.mark.django_db(transaction=True)


def in_other_connection(work) -> None:
    """Run `work` to its commit on another thread and database connection, and wait."""

    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(20)
    assert not thread.is_alive()


def after_first_choice(monkeypatch, meddle) -> list:
    """Once the router has chosen from its unlocked read (and before it locks anyone), run
    `meddle(chosen agent id)` to its commit elsewhere. Returns the agents chosen, in order."""
    real, chosen = strategy.choose, []

    def choose(pool, session, missed):
        agent, decision = real(pool, session, missed)
        chosen.append(agent.pk if agent else None)
        if len(chosen) == 1 and agent is not None:
            in_other_connection(lambda: meddle(agent.pk))
        return agent, decision

    monkeypatch.setattr(strategy, "choose", choose)
    return chosen


def standing(agent_id: int) -> int:
    return Offer.objects.standing().filter(agent_id=agent_id).count()


def test_an_agent_filled_by_another_groups_chat_meanwhile_is_passed_over(
    manual, make_agent, make_group, monkeypatch
):
    # Given Ann (capacity 1) first in line in Billing and in Sales, and Bob second in Billing
    ann, bob = make_agent(max_sessions=1), make_agent(max_sessions=1)
    billing = make_group("Billing", {ann: 1, bob: 2})
    sales = make_group("Sales", {ann: 1})
    # When a Sales chat takes Ann's one slot after a Billing chat's router chose her
    chosen = after_first_choice(
        monkeypatch,
        lambda _: session_create(customer_name="Sales chat", skill_group=sales.pk),
    )
    session, _ = session_create(customer_name="Billing chat", skill_group=billing.pk)
    # Then the Billing chat is offered to Bob, and Ann holds only the Sales chat's offer
    assert chosen[0] == ann.pk
    assert Offer.objects.standing().get(session=session).agent_id == bob.pk
    assert standing(ann.pk) == 1 and standing(bob.pk) == 1
    assert SessionEvent.objects.filter(session=session, kind="offer.made").count() == 1


def test_an_agent_gone_away_meanwhile_is_passed_over(manual, make_agent, make_group, monkeypatch):
    # Given Ann first in line in Billing, Bob second
    ann, bob = make_agent(), make_agent()
    billing = make_group("Billing", {ann: 1, bob: 2})
    # When Ann goes away after the router chose her
    after_first_choice(
        monkeypatch, lambda pk: agent_set_status(agent_id=pk, status="away", reason="lunch")
    )
    session, _ = session_create(customer_name="Billing chat", skill_group=billing.pk)
    # Then the chat is offered to Bob, and Ann, away, holds no offer
    assert Offer.objects.standing().get(session=session).agent_id == bob.pk
    assert standing(ann.pk) == 0
    assert Agent.objects.get(pk=ann.pk).status == "away"


def test_with_nobody_left_the_chat_waits_in_its_queue(manual, make_agent, make_group, monkeypatch):
    # Given Ann, Billing's only agent
    ann = make_agent()
    billing = make_group("Billing", {ann: 1})
    # When she goes away after the router chose her
    after_first_choice(monkeypatch, lambda pk: agent_set_status(agent_id=pk, status="away"))
    session, _ = session_create(customer_name="Billing chat", skill_group=billing.pk)
    # Then the chat is queued, offered to no one
    assert session.state == "queued"
    assert not Offer.objects.filter(session=session).exists()
