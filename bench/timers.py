"""Lateness of offer expiry -> next offer, of idle end, and of a bare Celery countdown task.

Runs a real prefork Celery worker (and beat) on its own queue against its own PostgreSQL
database, then prints p50/p95/p99/max lateness in ms against each timer's deadline:

  .venv/bin/python bench/timers.py [--timers 200] [--burst 500]

Scenarios: timers spread out (an idle machine), and `--burst` offers whose deadlines all fall
in the same second. "Next offer" is the new offer's created_at (inside the expiring transaction,
which commits right after); idle end is the session's ended_at. Environment: BENCH_DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/cc_bench_timers) and BENCH_REDIS_URL (default
redis://127.0.0.1:6379/10); the bench only touches its own database, queue and key prefix.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cc_bench_timers")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
ENV = {
    "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
    "DATABASE_URL": DB_URL,
    "REDIS_URL": REDIS_URL,
    "REDIS_PREFIX": "ccbench",
    "CELERY_TIMER_QUEUE": "bench_timers",
    "TIMER_SWEEP_SECONDS": "2",
    "LOG_LEVEL": "WARNING",
    "PYTHONUNBUFFERED": "1",
}
os.environ.update(ENV)


def create_database() -> None:
    import psycopg

    base, name = DB_URL.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


create_database()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from agents_app.actions.agents import agent_create  # noqa: E402
from agents_app.actions.settings import service_settings_update  # noqa: E402
from agents_app.actions.status import agent_set_status  # noqa: E402
from agents_app.models import Agent, ServiceSettings  # noqa: E402
from bench.probe_tasks import timer_probe_task  # noqa: E402
from sessions_app.actions.create import session_create  # noqa: E402
from sessions_app.actions.end import session_end  # noqa: E402
from sessions_app.actions.messages import message_send  # noqa: E402
from sessions_app.models import ChatSession, Offer  # noqa: E402
from sessions_app.routing.drain import queue_drain  # noqa: E402


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return (
        f"n={len(ordered):4d}  p50 {pick(0.50):7.1f}  p95 {pick(0.95):7.1f}  "
        f"p99 {pick(0.99):7.1f}  max {ordered[-1]:7.1f}  (mean {statistics.fmean(ordered):.1f})"
    )


def start(name: str, argv: list[str]) -> subprocess.Popen:
    log = open(ROOT / "test-output" / f"bench-{name}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "contactcenter", *argv],
        cwd=ROOT,
        env={**os.environ, **ENV},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(name: str, proc: subprocess.Popen) -> None:
    path = ROOT / "test-output" / f"bench-{name}.log"
    for _ in range(300):
        if b"ready." in path.read_bytes():
            return
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited:\n{path.read_text()[-2000:]}")
        time.sleep(0.1)
    raise SystemExit(f"{name} not ready")


def reset(mode: str, accept: int = 2, idle: int = 2, capacity: int = 50) -> None:
    ChatSession.objects.all().delete()
    Agent.objects.update(status="offline")
    ServiceSettings.objects.filter(pk=1).delete()
    service_settings_update(
        service_mode=mode,
        accept_timeout_seconds=accept,
        customer_idle_timeout_seconds=idle,
        default_max_sessions=capacity,
    )


def agents(count: int) -> list[Agent]:
    found = list(Agent.objects.filter(user__username__startswith="bench_").order_by("pk"))
    for i in range(len(found), count):
        found.append(agent_create(username=f"bench_{i}", password="bench-pw", check_password=False))
    return found[:count]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def first_offers(session_filter: dict) -> list[Offer]:
    """Each session's first offer (the measured one), whatever followed it."""
    from django.db.models import Min

    firsts = ChatSession.objects.filter(**session_filter).annotate(first=Min("offers__pk"))
    ids = [pk for pk in firsts.values_list("first", flat=True) if pk is not None]
    return list(Offer.objects.filter(pk__in=ids).order_by("pk"))


def next_offer_lateness(first_offers: list[Offer]) -> list[float]:
    """ms from each offer's deadline to the creation of the session's following offer."""
    result = []
    for offer in first_offers:
        following = Offer.objects.filter(session_id=offer.session_id, pk__gt=offer.pk)
        nxt = following.order_by("pk").first()
        if nxt is not None:
            result.append((nxt.created_at - offer.expires_at).total_seconds() * 1000)
    return result


def expiry_start_lateness(first_offers: list[Offer]) -> list[float]:
    """ms from each deadline to the moment the expiring service took the offer (its audit row)."""
    from sessions_app.models import SessionEvent

    ids = [o.pk for o in first_offers]
    rows = SessionEvent.objects.filter(kind="offer.expired", data__offer_id__in=ids)
    return [float(data["late_ms"]) for data in rows.values_list("data", flat=True)]


LATE_STARTS: dict[str, list[float]] = {}


def stop_bouncing() -> None:
    """Offers keep moving between agents every accept timeout: take everyone offline."""
    Agent.objects.update(status="offline")
    for pk in ChatSession.objects.exclude(state="ended").values_list("pk", flat=True):
        session_end(session_id=pk, reason="staff_ended")


def bare_countdowns(count: int, spread: float, lead: float = 1.5) -> list[float]:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"ccbench:probe:{time.time()}"
    base = time.time() + lead
    for i in range(count):
        due = base + (spread * i / count)
        timer_probe_task.apply_async(
            args=[due, key],
            eta=datetime.fromtimestamp(due, tz=UTC),
            queue=settings.CELERY_TIMER_QUEUE,
        )
    wait_for(lambda: client.llen(key) >= count, spread + lead + 30, "probe tasks")
    values = [float(v) for v in client.lrange(key, 0, -1)]
    client.delete(key)
    return values


def offer_expiry_spread(count: int, pace: float) -> list[float]:
    """Sessions offered one by one (`pace` s apart), each expiring to another agent."""
    accept = 15
    reset("manual", accept=accept)
    for agent in agents(10):
        agent_set_status(agent_id=agent.pk, status="online")
    started = time.monotonic()
    for _ in range(count):
        session_create(customer_name="Bench")
        time.sleep(pace)
        if time.monotonic() - started > accept - 2:
            break  # a slow machine: keep the follow-up offers from expiring too (below)
    # The follow-up offers get a long timeout, so only the measured first round expires.
    service_settings_update(accept_timeout_seconds=3600)
    first = first_offers({"customer_name": "Bench"})
    last_deadline = max(o.expires_at for o in first)
    wait_for(lambda: timezone.now() > last_deadline + timedelta(seconds=1), 60, "deadlines")
    wait_for(
        lambda: not Offer.objects.filter(pk__in=[o.pk for o in first], outcome="").exists(),
        30,
        "first offers resolved",
    )
    values = next_offer_lateness(first)
    LATE_STARTS["spread"] = expiry_start_lateness(first)
    stop_bouncing()
    return values


def offer_expiry_burst(count: int) -> list[float]:
    """`count` offers made in one drain, so their deadlines fall in the same second."""
    reset("manual", accept=10, capacity=30)
    pool = agents(max(20, count // 25 + 2))
    for _ in range(count):
        session_create(customer_name="Burst")  # all queued: everyone is offline
    Agent.objects.filter(pk__in=[a.pk for a in pool]).update(status="online")  # bench setup
    queue_drain()
    service_settings_update(accept_timeout_seconds=3600)  # follow-ups stand
    first = first_offers({"customer_name": "Burst"})
    deadlines = [o.expires_at for o in first]
    window = (max(deadlines) - min(deadlines)).total_seconds()
    print(f"  burst: {len(first)} offers due within {window * 1000:.0f} ms")
    wait_for(lambda: timezone.now() > max(deadlines) + timedelta(seconds=1), 60, "deadlines")
    wait_for(
        lambda: not Offer.objects.filter(pk__in=[o.pk for o in first], outcome="").exists(),
        60,
        "burst offers resolved",
    )
    values = next_offer_lateness(first)
    LATE_STARTS["burst"] = expiry_start_lateness(first)
    stop_bouncing()
    return values


def idle_end_spread(count: int, pace: float) -> list[float]:
    reset("auto", idle=2)
    for agent in agents(10):
        agent_set_status(agent_id=agent.pk, status="online")
    deadlines = {}
    for _ in range(count):
        session, _ = session_create(customer_name="Idle")
        message_send(
            session_id=session.pk, sender="agent", body="Still there?", agent=session.agent
        )
        session.refresh_from_db()
        deadlines[session.pk] = session.idle_deadline
        time.sleep(pace)
    wait_for(
        lambda: not ChatSession.objects.filter(pk__in=deadlines, state="active").exists(),
        60,
        "idle ends",
    )
    rows = ChatSession.objects.filter(pk__in=deadlines).values_list("pk", "ended_at", "end_reason")
    return [
        (ended_at - deadlines[pk]).total_seconds() * 1000
        for pk, ended_at, reason in rows
        if reason == "customer_idle_timeout"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=200)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    (ROOT / "test-output").mkdir(exist_ok=True)
    call_command("migrate", verbosity=0)
    import redis

    prefix = f"{ENV['REDIS_PREFIX']}:celery:"  # the broker's own key prefix (settings)
    redis.Redis.from_url(REDIS_URL).delete(prefix + ENV["CELERY_TIMER_QUEUE"])
    worker_argv = ["worker", "-Q", ENV["CELERY_TIMER_QUEUE"], "-P", "prefork"]
    worker_argv += ["-c", str(args.concurrency), "-n", f"bench-{os.getpid()}@%h"]
    worker_argv += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    worker_argv += ["--include", "bench.probe_tasks"]
    worker = start("worker", worker_argv)
    beat_file = ROOT / "test-output" / "bench-celerybeat-schedule"
    beat = start("beat", ["beat", "-l", "WARNING", "--schedule", str(beat_file), "--pidfile="])
    try:
        wait_ready("worker", worker)
        print(f"prefork worker, concurrency {args.concurrency}; lateness in ms vs the deadline")
        pace = 0.02
        rows = [
            ("bare countdown task, spread", bare_countdowns(args.timers, args.timers * pace)),
            ("offer expiry -> next offer, spread", offer_expiry_spread(args.timers, pace)),
            ("idle end, spread", idle_end_spread(args.timers, pace)),
            (f"bare countdown task, {args.burst} in 1 s", bare_countdowns(args.burst, 1.0)),
            (f"offer expiry -> next offer, {args.burst} burst", offer_expiry_burst(args.burst)),
        ]
        print()
        for name, values in rows:
            print(f"{name:42s} {percentiles(values)}")
        print("\nof which: deadline -> the expiring service took the offer (task delivery)")
        for name, values in LATE_STARTS.items():
            print(f"  {name:40s} {percentiles(values)}")
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        for proc in (beat, worker):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        connection.close()


if __name__ == "__main__":
    main()
