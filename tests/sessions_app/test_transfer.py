"""Transfer to an agent or a group: every path of the contract, in the actions."""

import pytest

from agents_app.actions.status import agent_set_status
from agents_app.selectors import agent_load, agents_with_load
from core.errors import Conflict, Invalid, NotFound
from sessions_app.actions.create import session_create
from sessions_app.actions.end import session_end
from sessions_app.actions.messages import message_send
from sessions_app.actions.offers import (
    ExpireResult,
    offer_accept,
    offer_decline,
    offer_expire,
    offers_expire_due,
)
from sessions_app.actions.transfer import session_transfer
from sessions_app.models import ChatSession, Message, Offer, SessionEvent, SessionState
from skills_app.actions import skill_group_create
from tests.conftest import offered_to, unique, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def load(agent) -> int:
    return agent_load(agents_with_load().get(pk=agent.pk))


def served_by(agent, make_session):
    """An active chat of `agent` (manual mode: offered to it, accepted)."""
    session, _ = make_session(name="Maria", message="My invoice is wrong")
    offer = Offer.objects.standing().get(session=session)
    assert offer.agent_id == agent.pk
    return offer_accept(session_id=session.pk, agent=agent)


def standing(session) -> Offer | None:
    return Offer.objects.standing().filter(session=session).first()


def kinds(session) -> list[str]:
    return list(SessionEvent.objects.filter(session=session).values_list("kind", flat=True))


@pytest.fixture
def alice_and_bob(manual, make_agent):
    """Alice serves a chat; Bob is online with room."""
    alice = make_agent(name="alice")
    return alice, make_agent(name="bob")


def test_accepted_transfer_moves_the_chat_and_tells_the_customer(alice_and_bob, make_session):
    alice, bob = alice_and_bob
    session = served_by(alice, make_session)
    # When Alice transfers to Bob with a note
    offer = session_transfer(
        session_id=session.pk, to_agent=bob.pk, note="Invoice question", by_agent=alice
    )
    # Then Bob has a transfer offer with the note, counted on his load; Alice keeps the chat
    assert (offer.kind, offer.agent_id, offer.from_agent_id) == ("transfer", bob.pk, alice.pk)
    assert offer.note == "Invoice question" and offer.timeout_seconds == 30
    session.refresh_from_db()
    assert (session.state, session.agent_id) == (SessionState.ACTIVE, alice.pk)
    assert (load(alice), load(bob)) == (1, 1)
    # And Alice may keep writing meanwhile
    message_send(session_id=session.pk, sender="agent", body="One moment", agent=alice)
    # When Bob accepts
    offer_accept(session_id=session.pk, agent=bob)
    session.refresh_from_db()
    offer.refresh_from_db()
    assert (session.state, session.agent_id, offer.outcome) == ("active", bob.pk, "accepted")
    assert (load(alice), load(bob)) == (0, 1)
    # And the customer gets the transfer notice naming Bob
    notice = Message.objects.filter(session=session, sender="system").last()
    assert notice.body == f"You are now chatting with {bob.name}."
    assert kinds(session)[-2:] == ["transfer.requested", "transfer.accepted"]
    # And Alice is no longer the chat's agent
    with pytest.raises(NotFound):
        message_send(session_id=session.pk, sender="agent", body="Still here?", agent=alice)


def test_an_empty_transfer_notice_sends_no_message(alice_and_bob, make_session, manual):
    manual.transfer_notice = ""
    manual.save()
    alice, bob = alice_and_bob
    session = served_by(alice, make_session)
    session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=alice)
    offer_accept(session_id=session.pk, agent=bob)
    assert not Message.objects.filter(session=session, sender="system").exists()


def test_declined_transfer_moves_nothing_and_says_why(alice_and_bob, make_session):
    alice, bob = alice_and_bob
    session = served_by(alice, make_session)
    offer = session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=alice)
    offer_decline(session_id=session.pk, agent=bob)
    session.refresh_from_db()
    offer.refresh_from_db()
    assert (session.state, session.agent_id, offer.outcome) == ("active", alice.pk, "declined")
    failed = SessionEvent.objects.get(session=session, kind="transfer.failed")
    assert failed.data["reason"] == "declined"
    assert (load(alice), load(bob)) == (1, 0)
    # And Bob cannot take it any more
    with pytest.raises(Conflict) as refused:
        offer_accept(session_id=session.pk, agent=bob)
    assert refused.value.code == "offer_declined"


def test_expired_transfer_moves_nothing_and_is_never_offered_on(
    alice_and_bob, make_agent, make_session, clock
):
    alice, bob = alice_and_bob
    make_agent(name="carol")  # someone else with room: a transfer never moves on by itself
    session = served_by(alice, make_session)
    offer = session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=alice)
    clock.advance(31)
    assert offer_expire(offer_id=offer.pk) is ExpireResult.EXPIRED
    session.refresh_from_db()
    offer.refresh_from_db()
    assert (session.state, session.agent_id, offer.outcome) == ("active", alice.pk, "expired")
    assert standing(session) is None
    failed = SessionEvent.objects.get(session=session, kind="transfer.failed")
    assert failed.data["reason"] == "expired"
    with pytest.raises(Conflict) as refused:
        offer_accept(session_id=session.pk, agent=bob)
    assert refused.value.code == "offer_expired"


def test_the_sweep_expires_a_transfer_offer_too(alice_and_bob, make_session, clock):
    alice, bob = alice_and_bob
    session = served_by(alice, make_session)
    offer = session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=alice)
    clock.advance(31)
    assert offers_expire_due() == 1
    offer.refresh_from_db()
    assert offer.outcome == "expired"
    assert ChatSession.objects.get(pk=session.pk).agent_id == alice.pk


def test_a_target_that_is_away_or_full_is_unavailable(manual, make_agent, make_session):
    alice = make_agent()
    away, full = make_agent(status="away"), make_agent(max_sessions=1)
    session = served_by(alice, make_session)
    agent_set_status(agent_id=alice.pk, status="away")  # the next chat goes to `full`
    served_by(full, make_session)
    for target in (away, full):
        with pytest.raises(Conflict) as refused:
            session_transfer(session_id=session.pk, to_agent=target.pk, by_agent=alice)
        assert refused.value.code == "agent_unavailable"
    assert standing(session) is None


def test_a_target_that_goes_away_while_pending_fails_the_transfer_as_unavailable(
    alice_and_bob, make_session
):
    alice, bob = alice_and_bob
    session = served_by(alice, make_session)
    offer = session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=alice)
    agent_set_status(agent_id=bob.pk, status="away")
    offer.refresh_from_db()
    session.refresh_from_db()
    assert (offer.outcome, session.state, session.agent_id) == ("withdrawn", "active", alice.pk)
    failed = SessionEvent.objects.get(session=session, kind="transfer.failed")
    assert failed.data["reason"] == "unavailable"


def test_to_a_group_goes_to_its_best_free_agent_other_than_the_sender(
    manual, make_agent, make_group, make_session
):
    alice, bob, carol = make_agent(), make_agent(), make_agent(status="away")
    session = served_by(alice, make_session)
    # Alice is the group's best member and Carol would be next, but she is away
    billing = make_group("Billing", {alice: 1, carol: 1, bob: 4})
    offer = session_transfer(session_id=session.pk, to_group=billing.pk, by_agent=alice)
    assert offer.agent_id == bob.pk
    assert SessionEvent.objects.get(kind="transfer.requested").data["to_group"] == billing.pk


def test_to_a_group_with_nobody_free_is_refused(manual, make_agent, make_group, make_session):
    alice, busy = make_agent(), make_agent(max_sessions=1)
    session = served_by(alice, make_session)
    agent_set_status(agent_id=alice.pk, status="away")
    served_by(busy, make_session)
    billing = make_group("Billing", {alice: 1, busy: 1})
    with pytest.raises(Conflict) as refused:
        session_transfer(session_id=session.pk, to_group=billing.pk, by_agent=alice)
    assert refused.value.code == "no_agent_available"


def test_one_transfer_at_a_time(alice_and_bob, make_agent, make_session):
    alice, bob = alice_and_bob
    carol = make_agent()
    session = served_by(alice, make_session)
    session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=alice)
    with pytest.raises(Conflict) as refused:
        session_transfer(session_id=session.pk, to_agent=carol.pk, by_agent=alice)
    assert refused.value.code == "transfer_pending"


def test_ending_the_chat_cancels_the_pending_transfer(alice_and_bob, make_session):
    alice, bob = alice_and_bob
    session = served_by(alice, make_session)
    offer = session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=alice)
    session_end(session_id=session.pk, reason="customer_ended")
    offer.refresh_from_db()
    assert offer.outcome == "withdrawn"
    assert (load(alice), load(bob)) == (0, 0)
    with pytest.raises(Conflict) as refused:
        offer_accept(session_id=session.pk, agent=bob)
    assert refused.value.code == "session_ended"


def test_a_pending_transfer_holds_the_targets_room(manual, make_agent, make_session):
    alice, bob = make_agent(), make_agent(max_sessions=1)
    session = served_by(alice, make_session)
    session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=alice)
    # When a new chat comes in while Bob's one slot is held by the transfer
    agent_set_status(agent_id=alice.pk, status="away")
    newcomer, _ = session_create(customer_name="Newcomer", message="Hi")
    # Then it waits: Bob is full
    assert ChatSession.objects.get(pk=newcomer.pk).state == SessionState.QUEUED


def test_the_senders_room_is_freed_on_accept(manual, make_agent, make_session):
    alice, bob = make_agent(max_sessions=1), make_agent()
    session = served_by(alice, make_session)
    # A chat waits in a group where only Alice serves, and she is full
    billing = skill_group_create(
        name=unique("Billing"), members=[{"agent_id": alice.pk, "priority": 3}]
    )
    waiting, _ = session_create(customer_name="Waiting", message="Anyone?", skill_group=billing.pk)
    assert ChatSession.objects.get(pk=waiting.pk).state == SessionState.QUEUED
    # When Bob accepts Alice's transfer
    session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=alice)
    offer_accept(session_id=session.pk, agent=bob)
    # Then the waiting chat is offered to Alice, whose one slot the transfer freed
    wait_until(lambda: offered_to(waiting) == alice.pk)


def test_who_may_transfer(alice_and_bob, make_agent, make_session):
    alice, bob = alice_and_bob
    session = served_by(alice, make_session)
    with pytest.raises(NotFound):
        session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=bob)
    # Staff may transfer any active chat; it is still Alice's transfer to answer for
    offer = session_transfer(session_id=session.pk, to_agent=bob.pk, staff=True)
    assert offer.from_agent_id == alice.pk


def test_bad_transfers_are_refused_with_the_field(alice_and_bob, make_session):
    alice, bob = alice_and_bob
    session = served_by(alice, make_session)
    cases = [
        ({}, "to_agent"),
        ({"to_agent": bob.pk, "to_group": 1}, "to_agent"),
        ({"to_agent": "nope"}, "to_agent"),
        ({"to_agent": 99_999_999}, "to_agent"),
        ({"to_agent": alice.pk}, "to_agent"),
        ({"to_group": 99_999_999}, "to_group"),
        ({"to_agent": bob.pk, "note": "x" * 501}, "note"),
    ]
    for kwargs, field in cases:
        with pytest.raises(Invalid) as refused:
            session_transfer(session_id=session.pk, by_agent=alice, **kwargs)
        assert refused.value.field == field, kwargs
    assert standing(session) is None
    # A chat that is not active yet (offered) cannot be transferred
    offered, _ = make_session(name="Offered")
    with pytest.raises(Conflict) as refused:
        session_transfer(session_id=offered.pk, to_agent=bob.pk, staff=True)
    assert refused.value.code == "not_active"
