"""Races on PostgreSQL with real connections and threads: capacity, offers, one winner."""

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from agents_app.actions.status import agent_set_status
from agents_app.selectors import agents_with_load
from core.errors import DomainError
from sessions_app import selectors
from sessions_app.actions.create import session_create
from sessions_app.actions.end import session_end
from sessions_app.actions.offers import ExpireResult, offer_accept, offer_expire
from sessions_app.models import ChatSession, Offer, SessionEvent, SessionState
from sessions_app.routing import drain
from sessions_app.routing.drain import queue_drain
from sessions_app.routing.pool import Pool
from skills_app.selectors import default_group

pytestmark = pytest.mark.django_db(transaction=True)


def run_threads(targets, timeout: float = 120) -> list:
    """Start every target together (a barrier); each thread closes its own DB connection."""
    # A thread that fails before the start line breaks the barrier instead of hanging the rest.
    barrier = threading.Barrier(len(targets), timeout=30)
    results: list = [None] * len(targets)

    def run(index, target):
        try:
            connection.ensure_connection()  # connect before the start line, not after it
            barrier.wait()
            results[index] = target()
        except Exception as exc:  # noqa: BLE001 -- reported to the test below
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return results


@pytest.mark.parametrize(("mode", "served_state"), [("auto", "active"), ("manual", "offered")])
def test_200_sessions_from_8_threads_fill_exactly_the_capacity_of_10_agents(
    service_settings, make_agent, mode, served_state
):
    # Given 10 online agents of capacity 3
    service_settings.service_mode = mode
    service_settings.save()
    agents = [make_agent(max_sessions=3) for _ in range(10)]

    # When 8 threads create 25 sessions each, at once
    def create_25():
        return [session_create(customer_name="Racer")[0].pk for _ in range(25)]

    results = run_threads([create_25] * 8)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors

    # Then exactly 30 are served and 170 wait
    states = Counter(ChatSession.objects.values_list("state", flat=True))
    assert states == {served_state: 30, "queued": 170}
    # No agent over capacity
    loads = {a.pk: a.offer_load + a.active_load for a in agents_with_load()}
    assert loads == {a.pk: 3 for a in agents}
    # No session with two agents or two standing offers
    standing = Offer.objects.filter(outcome="").values("session").annotate(n=Count("pk"))
    assert all(row["n"] == 1 for row in standing)
    if mode == "manual":
        assert standing.count() == 30
        assert not ChatSession.objects.filter(state="offered", agent__isnull=False).exists()
    else:
        assert not Offer.objects.exists()
        assert ChatSession.objects.filter(state="active", agent__isnull=False).count() == 30
    # Every served session has its routing decision on record
    served = ChatSession.objects.exclude(state="queued")
    assert SessionEvent.objects.filter(kind="routing.chosen", session__in=served).count() == 30


def _at(deadline, action, early_ms: float, late_ms: float):
    """Act at a random moment around the deadline (threads and the GIL blur it further)."""

    def run():
        pause = (deadline - timezone.now()).total_seconds()
        time.sleep(max(0, pause + random.uniform(-early_ms, late_ms) / 1000))
        try:
            return action()
        except DomainError as exc:
            return exc.code

    return run


def _race_once(offered, other) -> str:
    """One round: returns the outcome of the contested offer after checking it won once."""
    # Given a session offered to `offered`, whose deadline is a moment away
    agent_set_status(agent_id=other.pk, status="offline")
    agent_set_status(agent_id=offered.pk, status="online")
    session, _ = session_create(customer_name="Contested")
    offer = Offer.objects.get(session=session, outcome="")
    assert offer.agent_id == offered.pk
    agent_set_status(agent_id=other.pk, status="online")  # somewhere for it to move
    deadline = timezone.now() + timedelta(milliseconds=300)
    Offer.objects.filter(pk=offer.pk).update(expires_at=deadline)
    accept = _at(deadline, lambda: offer_accept(session_id=session.pk, agent=offered), 20, 2)
    expire = _at(deadline, lambda: offer_expire(offer_id=offer.pk), 2, 5)
    end = _at(
        deadline,
        lambda: session_end(session_id=session.pk, reason="customer_ended"),
        8,
        5,
    )

    # When 3 accept, 3 expire and 2 end at the same moment
    results = run_threads([accept] * 3 + [expire] * 3 + [end] * 2)
    unexpected = [r for r in results if isinstance(r, Exception)]
    assert not unexpected, unexpected
    accepted = [r for r in results[:3] if isinstance(r, ChatSession)]
    expired = [r for r in results[3:6] if r is ExpireResult.EXPIRED]
    ended = [r for r in results[6:] if isinstance(r, ChatSession)]

    # Then the offer was resolved exactly once, by exactly one of them
    offer.refresh_from_db()
    withdrawn_by_end = offer.outcome == "withdrawn"
    # A live worker (started by earlier tests) may expire it first, from the sweep or a tick's
    # task: then that is the one winner.
    by_worker = offer.outcome == "expired" and not expired
    assert len(accepted) + len(expired) + int(withdrawn_by_end) + int(by_worker) == 1, results
    assert len(ended) == 1, results  # the customer may end in any state, but only once
    resolutions = SessionEvent.objects.filter(
        Q(kind="offer.accepted") | Q(kind="offer.expired"), data__offer_id=offer.pk
    )
    assert resolutions.count() == (0 if withdrawn_by_end else 1)
    final = selectors.session_get(session.pk)
    assert final.state == SessionState.ENDED
    assert final.agent_id == (offered.pk if offer.outcome == "accepted" else None)
    assert not Offer.objects.filter(session=session, outcome="").exists()
    return offer.outcome


def test_accept_expire_and_end_racing_on_one_offer_have_exactly_one_winner(
    service_settings, make_agent
):
    service_settings.service_mode = "manual"
    service_settings.save()
    offered, other = make_agent(status="offline"), make_agent(status="offline")
    outcomes = Counter(_race_once(offered, other) for _ in range(10))
    print("race winners over 10 rounds:", dict(outcomes))


def start_router() -> tuple[threading.Thread, list]:
    """`queue_drain` on a thread named "router" (the tests pause it by name); what it routed."""
    routed: list = []

    def router():
        try:
            routed.append(queue_drain())
        finally:
            connection.close()

    thread = threading.Thread(target=router, name="router")
    thread.start()
    return thread, routed


def test_a_create_that_finds_routing_busy_is_routed_by_the_router_that_holds_the_lock(
    manual, make_agent, monkeypatch, beat_held
):
    # Given an agent with room, and a router paused mid-pass with the routing lock held, its
    # batch (one earlier session) already taken
    agent = make_agent(max_sessions=5)
    earlier = ChatSession.objects.create(
        customer_name="Earlier", customer_token_hash="x", skill_group=default_group()
    )
    paused, resume = threading.Event(), threading.Event()
    route_locked = drain.route_locked

    def route_slowly(*args, **kwargs):
        if threading.current_thread().name == "router":
            paused.set()
            assert resume.wait(30)
        return route_locked(*args, **kwargs)

    monkeypatch.setattr(drain, "route_locked", route_slowly)
    thread, routed = start_router()
    assert paused.wait(10)
    # When a customer creates a chat meanwhile: it does not wait for the lock
    started = time.monotonic()
    session, _ = session_create(customer_name="Later", message="Hi")
    assert time.monotonic() - started < 5
    assert session.state == SessionState.QUEUED
    # Then the router, once it lets go, sees that routing was wanted and routes that one too
    resume.set()
    thread.join(30)
    assert routed == [2]
    for pk in (earlier.pk, session.pk):
        assert selectors.session_get(pk).state == SessionState.OFFERED
        assert Offer.objects.get(session_id=pk, outcome="").agent_id == agent.pk


def test_room_freed_while_a_router_holds_the_lock_is_used_by_that_router(
    auto, make_agent, monkeypatch, beat_held
):
    # Given an agent of capacity 1 serving one chat, a second chat queued, and a router that
    # has just counted no free room and still holds the routing lock
    agent = make_agent(max_sessions=1)
    serving, _ = session_create(customer_name="Serving", message="Hi")
    waiting, _ = session_create(customer_name="Waiting", message="Hi")
    assert waiting.state == SessionState.QUEUED
    paused, resume = threading.Event(), threading.Event()
    load_locked = Pool.load

    def load_then_pause(*args, **kwargs):
        found = load_locked(*args, **kwargs)
        if threading.current_thread().name == "router" and not paused.is_set():
            paused.set()
            assert resume.wait(30)
        return found

    monkeypatch.setattr(Pool, "load", staticmethod(load_then_pause))
    thread, routed = start_router()
    assert paused.wait(10)
    # When the served chat ends meanwhile (its own drain finds the lock taken and leaves)
    session_end(session_id=serving.pk, agent=agent, reason="agent_ended")
    assert selectors.session_get(waiting.pk).state == SessionState.QUEUED
    # Then the router, seeing that routing was wanted while it held the lock, goes round again
    resume.set()
    thread.join(30)
    assert routed == [1]
    session = selectors.session_get(waiting.pk)
    assert session.state == SessionState.ACTIVE and session.agent_id == agent.pk
