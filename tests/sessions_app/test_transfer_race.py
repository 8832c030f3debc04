"""A transfer raced on PostgreSQL: the target accepts while the first agent ends the chat while
the offer expires (8 threads, 200 rounds). One outcome each time; never two agents."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from agents_app.selectors import agents_with_load
from sessions_app.actions.create import session_create
from sessions_app.actions.end import session_end
from sessions_app.actions.offers import ExpireResult, offer_accept, offer_expire, offers_expire_due
from sessions_app.actions.transfer import session_transfer
from sessions_app.models import ChatSession, Offer, SessionEvent
from tests.sessions_app.test_concurrency import _at, run_threads

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 200


def _race_once(alice, bob) -> str:
    # Given Alice serving a chat she has offered to Bob, whose offer runs out a moment from now
    session, _ = session_create(customer_name="Contested", message="Hi")
    offer_accept(session_id=session.pk, agent=alice)
    offer = session_transfer(session_id=session.pk, to_agent=bob.pk, by_agent=alice)
    deadline = timezone.now() + timedelta(milliseconds=40)
    Offer.objects.filter(pk=offer.pk).update(expires_at=deadline)
    accept = _at(deadline, lambda: offer_accept(session_id=session.pk, agent=bob), 15, 2)
    end = _at(
        deadline,
        lambda: session_end(session_id=session.pk, reason="agent_ended", agent=alice),
        10,
        10,
    )
    expire = _at(deadline, lambda: offer_expire(offer_id=offer.pk), 2, 5)
    sweep = _at(deadline, offers_expire_due, 0, 8)

    # When Bob accepts twice (two tabs), Alice ends twice, and the timer and the sweep fire
    results = run_threads([accept] * 2 + [end] * 2 + [expire] * 2 + [sweep] * 2)
    unexpected = [r for r in results if isinstance(r, Exception)]
    assert not unexpected, unexpected
    accepted = [r for r in results[0:2] if isinstance(r, ChatSession)]
    ended = [r for r in results[2:4] if isinstance(r, ChatSession)]
    expired = [r for r in results[4:6] if r is ExpireResult.EXPIRED]
    swept = sum(r for r in results[6:8] if isinstance(r, int))

    # Then the transfer offer was resolved exactly once, and the chat has one agent
    offer.refresh_from_db()
    final = ChatSession.objects.get(pk=session.pk)
    outcome = offer.outcome
    assert outcome in ("accepted", "withdrawn", "expired"), outcome
    by_worker = outcome == "expired" and not expired and not swept  # a live worker's tick
    assert len(accepted) + int(outcome == "withdrawn") + len(expired) + swept + by_worker == 1
    assert len(accepted) <= 1 and len(ended) <= 1, results
    if outcome == "accepted":
        # Bob took it before Alice could end it: her end found it was not hers any more
        assert final.agent_id == bob.pk and final.state == "active" and not ended
    elif outcome == "withdrawn":
        # Alice ended it first: the offer went with it
        assert final.agent_id == alice.pk and final.state == "ended" and len(ended) == 1
    else:
        # It ran out: the chat stayed Alice's (she may have ended it after)
        assert final.agent_id == alice.pk and not accepted
        assert final.state == ("ended" if ended else "active")
    resolutions = SessionEvent.objects.filter(
        Q(kind="transfer.accepted") | Q(kind="transfer.failed"), data__offer_id=offer.pk
    )
    assert resolutions.count() == (0 if outcome == "withdrawn" else 1)
    assert not Offer.objects.filter(session=session, outcome="").exists()
    if final.state == "active":  # leave both with room for the next round
        session_end(session_id=session.pk, reason="staff_ended")
    return outcome


def test_accept_end_and_expiry_racing_on_a_transfer_have_one_outcome(manual, make_agent):
    alice, bob = make_agent(max_sessions=100), make_agent(max_sessions=100)
    # Alice takes every new chat; Bob only transfers (he is in no group)
    bob.memberships.all().delete()
    outcomes = Counter(_race_once(alice, bob) for _ in range(ROUNDS))
    print("transfer race outcomes over", ROUNDS, "rounds:", dict(outcomes))
    loads = {a.pk: a.offer_load + a.active_load for a in agents_with_load()}
    assert loads == {alice.pk: 0, bob.pk: 0}
    assert len(outcomes) >= 2, outcomes  # the race was a race
