"""Deadlines share one countdown task per tick, claimed across processes in real Redis."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from sessions_app import tasks, timers
from sessions_app.actions.messages import message_send
from sessions_app.actions.sweep import timers_resolve_due


@pytest.fixture
def sent(monkeypatch, settings):
    """The ticks whose task would go to the workers (the Celery send itself is not the point)."""
    settings.TIMER_TICK_MS = 50
    found = []

    monkeypatch.setattr(timers, "_send", found.append)
    monkeypatch.setattr(timers, "_claimed", {})
    return found


def another_process(monkeypatch) -> None:
    monkeypatch.setattr(timers, "_claimed", {})  # what this process remembers, forgotten


def test_a_deadline_rounds_up_to_the_end_of_its_tick(settings):
    settings.TIMER_TICK_MS = 50
    base = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert timers.tick_for(base) == base
    assert timers.tick_for(base + timedelta(milliseconds=1)) == base + timedelta(milliseconds=50)
    assert timers.tick_for(base + timedelta(milliseconds=49)) == base + timedelta(milliseconds=50)
    assert timers.tick_for(base + timedelta(milliseconds=50)) == base + timedelta(milliseconds=50)


def test_deadlines_in_one_tick_send_one_task_from_any_process(sent, monkeypatch):
    start = timers.tick_for(datetime.now(UTC) + timedelta(hours=1))
    same = [start + timedelta(milliseconds=ms) for ms in (1, 20, 49)]
    timers.schedule(same[0])
    timers.schedule(same[1])
    another_process(monkeypatch)
    timers.schedule(same[2])
    assert sent == [start + timedelta(milliseconds=50)]
    # The next tick is a task of its own
    another_process(monkeypatch)
    timers.schedule(start + timedelta(milliseconds=51), *same)
    assert sent == [start + timedelta(milliseconds=50), start + timedelta(milliseconds=100)]


def test_without_redis_each_process_still_sends_its_tick(sent, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(timers.cache, "add", down)
    due = timers.tick_for(datetime.now(UTC) + timedelta(hours=2))
    timers.schedule(due)
    timers.schedule(due)  # this process remembers it sent one
    another_process(monkeypatch)
    timers.schedule(due)
    assert sent == [due, due]


@pytest.mark.django_db(transaction=True)
def test_a_held_session_does_not_keep_other_due_idle_ends_waiting(auto, make_agent, make_session):
    import threading

    from django.db import connection, transaction
    from django.utils import timezone

    from sessions_app.models import ChatSession, SessionState

    # Given two chats past their idle deadline, one of them held by another transaction
    agent = make_agent(max_sessions=5)
    held, free = make_session()[0], make_session()[0]
    for session in (held, free):
        message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    past = timezone.now() - timedelta(seconds=1)
    ChatSession.objects.filter(pk__in=[held.pk, free.pk]).update(idle_deadline=past)
    locked, release = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                ChatSession.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    def resolver():
        try:
            timers_resolve_due()
        finally:
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=resolver)]
    threads[0].start()
    assert locked.wait(5)
    threads[1].start()

    def state(session):
        return ChatSession.objects.get(pk=session.pk).state

    # When a tick's work runs: the free one ends at once, while the other is still held
    try:
        deadline = time.monotonic() + 5
        while state(free) != SessionState.ENDED and time.monotonic() < deadline:
            time.sleep(0.02)
        assert state(free) == SessionState.ENDED
        assert state(held) == SessionState.ACTIVE
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    # Then the held one is ended too, once its holder lets go
    assert state(held) == SessionState.ENDED


@pytest.mark.django_db(transaction=True)
def test_a_sweep_that_finds_a_backlog_shares_it_with_helpers(
    auto, make_agent, make_session, monkeypatch
):
    from django.utils import timezone

    from sessions_app.models import ChatSession, SessionState

    agent = make_agent(max_sessions=50)
    sessions = [make_session()[0] for _ in range(45)]
    for session in sessions:
        message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    ids = [s.pk for s in sessions]
    helpers = []  # the helper tasks the sweep sends (the ends themselves are real)
    monkeypatch.setattr(
        tasks.timers_due_task, "apply_async", lambda *a, **kw: helpers.append(kw["args"])
    )

    # Given a few overdue idle chats, the sweep does them alone (the suite's live worker may
    # sweep at the same moment and take some: they are ended once either way)
    past = timezone.now() - timedelta(seconds=1)
    ChatSession.objects.filter(pk__in=ids[:5]).update(idle_deadline=past)
    assert tasks.timers_sweep_task()["idle_ended"] <= 5
    assert ChatSession.objects.filter(pk__in=ids[:5], state=SessionState.ENDED).count() == 5
    assert helpers == []
    # Given a backlog of 40, helpers are started beside it (two, unless the live worker's own
    # sweep took part of it first), and every one is ended
    ChatSession.objects.filter(pk__in=ids[5:]).update(idle_deadline=past)
    tasks.timers_sweep_task()
    assert 1 <= len(helpers) <= 40 // tasks.SWEEP_SHARE
    assert not ChatSession.objects.filter(pk__in=ids).exclude(state=SessionState.ENDED).exists()


@pytest.mark.django_db(transaction=True)
def test_a_tick_that_finds_nothing_due_costs_two_statements(auto, make_agent, make_session):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Given a chat whose idle deadline is still ahead (most ticks find theirs moved like this)
    agent = make_agent()
    session = make_session()[0]
    message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    with CaptureQueriesContext(connection) as queries:
        found = timers_resolve_due()
    assert found == {
        "offers_expired": 0,
        "idle_ended": 0,
        "idle_warned": 0,
        "queue_timed_out": 0,
        "overflowed": 0,
    }
    assert len(queries) == 2
