"""Shared fixtures: real Redis, real PostgreSQL, and real worker/beat/daphne processes.

Processes start once per test session (on first use) and tests keep apart by their data.
Tests that talk to those processes must use `transactional_db`, so their rows are committed.
"""

import itertools
import signal
import time
from collections.abc import Callable

import pytest

from tests import procs

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}_{int(time.time() * 1000) % 10_000_000}"


def wait_until(predicate: Callable[[], object], timeout: float = 10, interval: float = 0.05):
    """Poll until `predicate()` is truthy; return its value, or fail with the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")


def offered_to(session) -> int | None:
    """The agent holding the session's standing offer, if any."""
    from sessions_app.models import Offer

    offer = Offer.objects.standing().filter(session=session).first()
    return offer.agent_id if offer else None


@pytest.fixture(scope="session", autouse=True)
def _translations_compiled():
    """The catalogues compiled (as `make run` does), for this process and the servers the
    tests start: the pages and the prompts are tested in Chinese too."""
    from sessions_app.management.commands.compile_translations import compile_translations

    compile_translations()


@pytest.fixture(scope="session", autouse=True)
def _flush_survives_a_deadlock_with_the_worker():
    """Transactional tests end with a TRUNCATE of every table, while the session's real worker
    and beat may be mid-query on the same tables: PostgreSQL can then find a deadlock and abort
    the TRUNCATE. The worker's side is done in milliseconds, so the flush is tried again."""
    from django.core.management.base import CommandError
    from django.core.management.commands import flush
    from django.db import OperationalError

    original = flush.Command.handle

    def handle(self, *args, **options):
        for attempt in range(5):
            try:
                return original(self, *args, **options)
            except CommandError as exc:
                cause = exc.__cause__
                deadlock = isinstance(cause, OperationalError) and "deadlock" in str(cause)
                if not deadlock or attempt == 4:
                    raise
                time.sleep(0.2)

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture(scope="session", autouse=True)
def _fresh_test_redis(django_db_setup, django_db_blocker):
    procs.flush_test_redis()
    yield
    # Worker threads of async tests keep their own connections; end them so the test
    # database can be dropped cleanly after the session.
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(scope="session")
def celery_worker(django_db_setup):
    """A real prefork Celery worker on the timer and default queues."""
    proc = procs.celery_worker().start()
    procs.wait_worker_ready(proc)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def webhook_worker(django_db_setup):
    """The webhooks' own worker (one process, its pump sending concurrently), as in Procfile."""
    proc = procs.celery_worker(
        name="webhooks", concurrency=1, queues=settings_value("WEBHOOK_QUEUE"), pool="solo"
    ).start()
    procs.wait_worker_ready(proc)
    yield proc
    proc.stop()


def settings_value(name: str):
    from django.conf import settings

    return getattr(settings, name)


@pytest.fixture(scope="session")
def celery_beat(django_db_setup, tmp_path_factory):
    """Celery beat, running the timer sweep every TIMER_SWEEP_SECONDS."""
    proc = procs.celery_beat(tmp_path_factory.mktemp("beat")).start()
    yield proc
    proc.stop()


@pytest.fixture
def beat_held():
    """Beat held still (SIGSTOP) for the test, if this session started it; the sweep it sends
    every TIMER_SWEEP_SECONDS drains every group with a queue, so a test that must be a
    group's only router (or a timer's only resolver) cannot have it. A sweep sent just before
    is given time to run first."""
    beat = procs.Proc.started.get("beat")
    if beat is None or not beat.running():
        yield
        return
    beat.send_signal(signal.SIGSTOP)
    try:
        time.sleep(settings_value("TIMER_SWEEP_SECONDS") + 0.3)
        yield
    finally:
        beat.send_signal(signal.SIGCONT)


@pytest.fixture(scope="session")
def live_server_url(django_db_setup):
    """A real daphne serving HTTP and WebSockets on a free port."""
    port = procs.free_port()
    proc = procs.daphne(port).start()
    procs.wait_port(port, proc)
    yield f"http://127.0.0.1:{port}"
    proc.stop()


@pytest.fixture
def service_settings(db):
    """The settings row, reset to known values; change fields and call .save()."""
    from agents_app.models import ServiceSettings

    ServiceSettings.objects.filter(pk=1).delete()
    # A live worker or daphne may make the row again meanwhile (with the same defaults).
    cfg = ServiceSettings.objects.get_or_create(pk=1)[0]
    # The chat's own prompts off, so a test sees only the messages it is about; the prompts'
    # tests (tests/sessions_app/test_prompts.py) turn them on (`prompts_on`).
    for name in QUIET_PROMPTS:
        setattr(cfg, name, "")
    cfg.save()
    return cfg


QUIET_PROMPTS = ("welcome_notice", "queue_notice", "agent_joined_notice", "agent_ended_notice")


@pytest.fixture
def prompts_on(service_settings):
    """The settings with every prompt at its default (as a fresh desk has them)."""
    from agents_app.models import PROMPTS

    for name, (default, _) in PROMPTS.items():
        setattr(service_settings, name, default)
    service_settings.save()
    return service_settings


@pytest.fixture
def make_agent(db):
    """Create an agent (a user with a profile): make_agent(status="online", max_sessions=3)."""
    from agents_app.actions.agents import agent_create
    from agents_app.actions.status import agent_set_status

    def make(status: str = "online", max_sessions: int | None = None, name: str | None = None):
        username = unique(name or "agent")
        agent = agent_create(
            username=username,
            password="pw-" + username,
            display_name=username,
            max_sessions=max_sessions,
            check_password=False,  # a fixture, not a test of the password rules
        )
        if status != "offline":
            agent = agent_set_status(agent_id=agent.pk, status=status)
        return agent

    return make


@pytest.fixture
def make_session(service_settings):
    """Create a chat session the way a customer does: make_session(message="Hi")."""
    from sessions_app.actions.create import session_create

    def make(name: str = "Customer", message: str | None = "Hello"):
        return session_create(customer_name=name, message=message)

    return make


@pytest.fixture
def make_group(db):
    """make_group("Billing", {agent: 1, other: 3}, overflow=group, after=60)."""
    from skills_app.actions import skill_group_create

    def make(name: str, members: dict | None = None, *, overflow=None, after=None, **fields):
        members = [{"agent_id": a.pk, "priority": p} for a, p in (members or {}).items()]
        if overflow is not None:
            fields.update(overflow_group_id=overflow.pk, overflow_after_seconds=after)
        return skill_group_create(name=name, members=members, **fields)

    return make
