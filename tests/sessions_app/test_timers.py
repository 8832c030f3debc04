"""Timers against a real prefork Celery worker and beat on real Redis, with 1-2 s timeouts."""

import contextlib
import time

import pytest
from django.conf import settings as desk_settings
from django.utils import timezone

from agents_app.actions.agents import agent_update
from agents_app.actions.settings import service_settings_update
from core.errors import Conflict
from sessions_app import selectors
from sessions_app import timers as tick_timers
from sessions_app.actions.end import session_end
from sessions_app.actions.messages import message_send
from sessions_app.actions.offers import offer_accept
from sessions_app.models import Offer, SessionEvent, SessionState
from tests import procs
from tests.conftest import wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def timers(celery_worker, celery_beat, service_settings):
    """A running worker and beat, manual mode with a 1 s offer and a 1 s idle timeout."""
    service_settings.service_mode = "manual"
    service_settings.accept_timeout_seconds = 1
    service_settings.customer_idle_timeout_seconds = 1
    service_settings.idle_end_notice = "Closed: we did not hear back."
    service_settings.save()
    yield service_settings
    # Stop the bouncing of offers between agents before the next test flushes the tables (a
    # sweep or tick may end one meanwhile: that is as good).
    for session in selectors.queued_sessions().union(
        selectors.ChatSession.objects.exclude(state="ended")
    ):
        with contextlib.suppress(Conflict):
            session_end(session_id=session.pk, reason="staff_ended")


def forget_tick_claims(monkeypatch) -> None:
    """Forget which ticks have a task (in Redis and in this process). Ticks claimed by tasks
    an earlier test's worker kill lost (countdowns 30 s ahead, say) are the sweep's to cover:
    with the sweep stopped, a new deadline in such a tick would wait for nobody."""
    import redis
    from django.core.cache import cache

    monkeypatch.setattr(tick_timers, "_claimed", {})
    client = redis.Redis.from_url(desk_settings.REDIS_URL)
    try:
        for key in client.scan_iter(cache.make_key("timers:tick:*")):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def sweep_paused(timers, celery_beat, beat_held, monkeypatch):
    """The beat stopped for the test, so only the ticks' tasks can resolve a timer: a timer
    resolved at all came from its tick."""
    forget_tick_claims(monkeypatch)


def standing(session) -> Offer | None:
    return Offer.objects.filter(session=session, outcome="").first()


def test_expiry_moves_the_session_to_the_next_agent(timers, make_agent, make_session):
    first, second = make_agent(), make_agent()
    session, _ = make_session()
    offer = standing(session)
    other = second.pk if offer.agent_id == first.pk else first.pk
    moved = wait_until(lambda: (o := standing(session)) and o.pk != offer.pk and o, timeout=10)
    assert moved.agent_id == other
    offer.refresh_from_db()
    assert offer.outcome == "expired" and offer.resolved_at >= offer.expires_at


def test_the_only_eligible_agent_who_missed_it_is_offered_it_again(
    timers, make_agent, make_session
):
    agent = make_agent()
    session, _ = make_session()
    offer = standing(session)
    again = wait_until(lambda: (o := standing(session)) and o.pk != offer.pk and o, timeout=10)
    assert again.agent_id == agent.pk


def test_with_no_one_eligible_it_waits_in_the_queue_until_someone_is(
    timers, make_agent, make_session
):
    # Given the only agent serving one chat, offered a second, then its capacity lowered to 1
    service_settings_update(service_mode="auto")
    agent = make_agent(max_sessions=2)
    make_session()
    service_settings_update(service_mode="manual")
    session, _ = make_session()
    agent_update(agent_id=agent.pk, max_sessions=1)
    # When the offer expires, the session waits in the queue
    wait_until(lambda: selectors.session_get(session.pk).state == SessionState.QUEUED, 10)
    time.sleep(1.5)  # sweeps run meanwhile: it stays queued
    assert selectors.session_get(session.pk).state == SessionState.QUEUED
    # Then a newcomer coming online is offered it at once (by its own drain, or by the sweep
    # that held the group's lock at that moment and looks again)
    newcomer = make_agent()
    assert wait_until(lambda: (o := standing(session)) and o.agent_id == newcomer.pk, timeout=3)


def test_idle_end_posts_the_notice_and_ends_the_session(timers, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    offer_accept(session_id=session.pk, agent=agent)
    message_send(session_id=session.pk, sender="agent", body="Hi!", agent=agent)
    deadline = selectors.session_get(session.pk).idle_deadline
    ended = wait_until(
        lambda: (s := selectors.session_get(session.pk)).state == SessionState.ENDED and s, 10
    )
    assert ended.end_reason == "customer_idle_timeout"
    assert ended.ended_at >= deadline
    last = selectors.session_messages(session).last()
    assert (last.sender, last.body) == ("system", "Closed: we did not hear back.")


def test_an_agent_writing_again_moves_the_idle_end_to_the_new_deadline(
    timers, make_agent, make_session
):
    # Given a chat whose agent writes, hears back, and writes again half a timeout later
    agent = make_agent()
    session, _ = make_session()
    offer_accept(session_id=session.pk, agent=agent)
    message_send(session_id=session.pk, sender="agent", body="Hi!", agent=agent)
    first = selectors.session_get(session.pk).idle_deadline
    message_send(session_id=session.pk, sender="customer", body="Hello")
    time.sleep(0.5)
    message_send(session_id=session.pk, sender="agent", body="Still there?", agent=agent)
    second = selectors.session_get(session.pk).idle_deadline
    assert second > first
    # Then the chat ends, at the second deadline, not at the first
    ended = wait_until(
        lambda: (s := selectors.session_get(session.pk)).state == SessionState.ENDED and s, 10
    )
    assert ended.end_reason == "customer_idle_timeout"
    assert ended.ended_at >= second


def test_a_customer_reply_stops_the_idle_end(timers, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    offer_accept(session_id=session.pk, agent=agent)
    message_send(session_id=session.pk, sender="agent", body="Hi!", agent=agent)
    message_send(session_id=session.pk, sender="customer", body="I'm here")
    time.sleep(2.5)  # past the deadline and at least two sweeps
    assert selectors.session_get(session.pk).state == SessionState.ACTIVE


def _restart(worker: procs.Proc) -> float:
    """Start the worker again; return when it is ready (by what it logged since this start)."""
    worker.start()
    procs.wait_worker_ready(worker)
    return time.monotonic()


def test_worker_killed_with_offers_pending_resolves_each_once_after_restart(
    timers, celery_worker, make_agent, make_session
):
    # Given six standing offers with 2 s deadlines, held as countdown tasks by the worker
    service_settings_update(accept_timeout_seconds=2)
    agents = [make_agent(max_sessions=3) for _ in range(3)]
    sessions = [make_session()[0] for _ in range(6)]
    offers = [standing(s) for s in sessions]
    assert all(offers) and len({o.agent_id for o in offers}) == len(agents)
    time.sleep(0.3)  # let the worker fetch the countdown tasks
    try:
        # When the worker is SIGKILLed and comes back only after every deadline passed
        celery_worker.kill()
        wait_until(lambda: timezone.now() > max(o.expires_at for o in offers), 5)
        time.sleep(0.5)
        assert all(o.outcome == "" for o in Offer.objects.filter(pk__in=[o.pk for o in offers]))
        started = time.monotonic()
        ready = _restart(celery_worker)
    finally:
        if celery_worker.popen.poll() is not None:
            _restart(celery_worker)

    # Then every offer is resolved within the sweep interval plus 2 s of the restart, once
    def resolved():
        return all(o.outcome for o in Offer.objects.filter(pk__in=[o.pk for o in offers]))

    wait_until(resolved, timeout=1 + 2 + 5)
    took = time.monotonic() - started
    print(f"worker boot {ready - started:.2f}s, all resolved {took:.2f}s after restart")
    assert took <= 1 + 2 + (ready - started), took
    for offer in offers:
        offer.refresh_from_db()
        assert offer.outcome == "expired"
        events = SessionEvent.objects.filter(kind="offer.expired", data__offer_id=offer.pk)
        assert events.count() == 1
    for session in sessions:
        assert Offer.objects.filter(session=session, outcome="").count() <= 1


def test_offers_made_in_one_pass_expire_together_on_the_worker(timers, make_agent, make_session):
    # Given four waiting sessions offered at once when two agents come online together
    sessions = [make_session()[0] for _ in range(4)]
    first = make_agent(max_sessions=4)
    offers = wait_until(lambda: all(found := [standing(s) for s in sessions]) and found)
    assert {o.agent_id for o in offers} == {first.pk}
    second = make_agent(max_sessions=4)
    # Then, once their shared deadline passes, every one moves to the other agent
    wait_until(lambda: all(o.outcome for o in Offer.objects.filter(pk__in=[o.pk for o in offers])))
    moved = [standing(s) for s in sessions]
    assert all(o is not None and o.agent_id == second.pk for o in moved)


def test_idle_ends_come_from_their_tick_with_no_sweep_running(
    sweep_paused, make_agent, make_session
):
    # Given ten chats whose agents have written (each deadline claims or shares a tick)
    agent = make_agent(max_sessions=10)
    sessions = [make_session()[0] for _ in range(10)]
    for session in sessions:
        offer_accept(session_id=session.pk, agent=agent)
        message_send(session_id=session.pk, sender="agent", body="Hi!", agent=agent)
    ids = [s.pk for s in sessions]
    # Then each ends at its deadline, by its tick alone (the sweep is stopped): late by a tick
    # and the worker's pickup
    events = SessionEvent.objects.filter(kind="session.idle_timeout", session_id__in=ids)
    assert wait_until(lambda: events.count() == 10, 10), events.count()
    late = sorted(e.data["late_ms"] for e in events)
    assert late[-1] < 2000, late


def _overflow_setup(make_agent):
    """Billing's only agent busy for good; Sales' agent free; Billing overflows after 1 s."""
    from sessions_app.actions.create import session_create
    from skills_app.actions import skill_group_create

    busy, helper = make_agent(max_sessions=1), make_agent()
    sales = skill_group_create(name="Sales", members=[{"agent_id": helper.pk, "priority": 3}])
    billing = skill_group_create(
        name="Billing",
        members=[{"agent_id": busy.pk, "priority": 1}],
        overflow_group_id=sales.pk,
        overflow_after_seconds=1,
    )
    served = session_create(customer_name="Served", skill_group=billing.pk)[0]
    offer_accept(session_id=served.pk, agent=busy)
    waiting = session_create(customer_name="Waiting", skill_group=billing.pk)[0]
    assert waiting.state == SessionState.QUEUED
    return waiting, helper


def _overflowed_late_ms(session) -> float:
    event = wait_until(
        lambda: SessionEvent.objects.filter(session=session, kind="session.overflowed").first(),
        timeout=10,
    )
    return event.data["late_ms"]


def test_overflow_comes_from_its_tick_and_the_overflow_agent_is_offered_at_once(
    sweep_paused, make_agent
):
    waiting, helper = _overflow_setup(make_agent)
    late = _overflowed_late_ms(waiting)  # the sweep is stopped: only its tick can apply it
    assert late < 2000, late
    assert wait_until(lambda: (o := standing(waiting)) and o.agent_id == helper.pk, timeout=5)


def test_overflow_whose_task_is_lost_comes_within_the_sweep_interval(
    timers, make_agent, monkeypatch, settings
):
    # Given no countdown task at all for the overflow moment (as if its worker died)
    monkeypatch.setattr(tick_timers, "_send", lambda due: None)
    waiting, helper = _overflow_setup(make_agent)
    # Then the beat's sweep applies it, never more than its interval (plus a pickup) late
    late = _overflowed_late_ms(waiting)
    assert late < settings.TIMER_SWEEP_SECONDS * 1000 + 500, late
    assert wait_until(lambda: (o := standing(waiting)) and o.agent_id == helper.pk, timeout=5)


# --- the customer's timers: the idle warning and the queue timeout -----------------------------


WARNING = "Still there? We close this chat soon."


def _warning_setup(make_agent, make_session, *, timeout: int, warning: int):
    """An active chat whose agent has just written: returns it with its warning moment."""
    service_settings_update(
        customer_idle_timeout_seconds=timeout,
        idle_warning_seconds=warning,
        idle_warning_notice=WARNING,
    )
    agent = make_agent()
    session, _ = make_session()
    offer_accept(session_id=session.pk, agent=agent)
    message_send(session_id=session.pk, sender="agent", body="Anything else?", agent=agent)
    row = selectors.session_get(session.pk)
    return session, row.idle_warning_at, row.idle_deadline


def _warnings(session) -> list:
    return [m for m in selectors.session_messages(session) if m.body == WARNING]


def test_the_idle_warning_comes_on_time_then_the_end(timers, make_agent, make_session):
    # Given an idle end 3 s after the agent's message, and a warning 2 s before it
    session, warn_at, end_at = _warning_setup(make_agent, make_session, timeout=3, warning=2)
    # Then the warning comes at its moment (one tick late at most, plus the pickup)
    posted = wait_until(lambda: _warnings(session), 5)
    late = (posted[0].created_at - warn_at).total_seconds()
    print(f"idle warning {late * 1000:.0f} ms after its moment")
    assert 0 <= late < 1.0
    assert selectors.session_get(session.pk).state == SessionState.ACTIVE
    # And the end at its own, after it, with the warning said once
    ended = wait_until(
        lambda: (s := selectors.session_get(session.pk)).state == SessionState.ENDED and s, 10
    )
    assert ended.end_reason == "customer_idle_timeout" and ended.ended_at >= end_at
    assert len(_warnings(session)) == 1


def test_the_idle_warning_survives_a_worker_kill(timers, celery_worker, make_agent, make_session):
    # Given a warning 2 s away (the end 30 s away), held as a countdown task by the worker
    session, warn_at, _ = _warning_setup(make_agent, make_session, timeout=30, warning=28)
    time.sleep(0.3)  # let the worker fetch the countdown task
    try:
        # When the worker is SIGKILLed and comes back only after the warning's moment
        celery_worker.kill()
        wait_until(lambda: timezone.now() > warn_at, 5)
        time.sleep(0.5)
        assert not _warnings(session)
        started = time.monotonic()
        ready = _restart(celery_worker)
    finally:
        if celery_worker.popen.poll() is not None:
            _restart(celery_worker)
    # Then the warning comes within the sweep interval plus 2 s of the restart, once
    wait_until(lambda: _warnings(session), timeout=1 + 2 + 5)
    took = time.monotonic() - started
    print(f"worker boot {ready - started:.2f}s, warning {took:.2f}s after restart")
    assert took <= 1 + 2 + (ready - started), took
    time.sleep(1.2)  # a sweep more: still once
    assert len(_warnings(session)) == 1
    assert selectors.session_get(session.pk).state == SessionState.ACTIVE


def test_no_idle_warning_after_the_chat_ended(timers, make_agent, make_session):
    session, _, _ = _warning_setup(make_agent, make_session, timeout=3, warning=2)
    agent = selectors.session_get(session.pk).agent
    session_end(session_id=session.pk, reason="agent_ended", agent=agent)
    time.sleep(3.5)  # past the warning's moment, its tick and two sweeps
    assert not _warnings(session)
    assert not SessionEvent.objects.filter(session=session, kind="session.idle_warning").exists()


def test_a_chat_nobody_serves_ends_at_its_queue_timeout(timers, make_session):
    # Given nobody online and a 1 s queue timeout
    service_settings_update(queue_timeout_seconds=1)
    session, _ = make_session()
    deadline = selectors.session_get(session.pk).queue_deadline
    assert deadline is not None
    # Then the worker ends it at its moment
    ended = wait_until(
        lambda: (s := selectors.session_get(session.pk)).state == SessionState.ENDED and s, 5
    )
    assert ended.end_reason == "queue_timeout"
    late = (ended.ended_at - deadline).total_seconds()
    print(f"queue timeout {late * 1000:.0f} ms after its moment")
    assert 0 <= late < 1.0
