"""Reports: the summary and per-agent reports and the wallboard snapshot over a year of history.

    .venv/bin/python bench/reports.py [--sessions 1000000] [--reseed] [--repeat 7] [--json FILE]

In this process, on a PostgreSQL database of its own (cc_bench_reports_<sessions>, made if
missing; BENCH_DATABASE_URL or --database-url say another), with `DEBUG` off as in production:

1. seeds `--sessions` ended chats over 365 days with 2,000 agents (`manage.py seed_history`),
   unless the database holds that many already (`--reseed` makes it afresh);
2. puts a live floor on top: 500 chats waiting (queued or offered) from the last minutes, and
   most agents online or away, some with active chats;
3. writes the reports' rollups from scratch (`rollup_days`), timed;
4. times, best and median of `--repeat` runs after one warm-up: the summary report for the
   last 30 and 365 days by day, the per-agent report for 30 days and the wallboard snapshot,
   beside the yardstick of the same run: a bare `SELECT count(*)` of the chats table.

Goals: each report ≤ 500 ms, the snapshot ≤ 50 ms (medians). `--sessions 5000` is the short
mode: well under a minute.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.desk import fresh_database  # noqa: E402

DAYS = 365
AGENTS = 2000
WAITING = 500
GOALS_MS = {"summary_30d": 500, "summary_365d": 500, "agents_30d": 500, "snapshot": 50}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000, help="ended chats of history")
    parser.add_argument("--reseed", action="store_true", help="make the database afresh")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each figure")
    parser.add_argument("--seed", type=int, default=1, help="the history's random seed")
    parser.add_argument("--json", dest="json_path", help="also write the figures to this file")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
    )
    args = parser.parse_args()
    if args.database_url is None:
        name = f"cc_bench_reports_{args.sessions}"
        args.database_url = f"postgres://postgres@127.0.0.1:5432/{name}"
    return args


def held_sessions(url: str) -> int:
    """Ended chats the database holds already (0 when it or its tables do not exist yet)."""
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            found = conn.execute(
                "SELECT count(*) FROM sessions_app_chatsession WHERE state = 'ended'"
            ).fetchone()
            return found[0]
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        return 0


args = parse_args()
held = held_sessions(args.database_url)
reuse = not args.reseed and held >= args.sessions
if not reuse:
    fresh_database(args.database_url)
os.environ.update(
    DJANGO_SETTINGS_MODULE="contactcenter.settings",
    DATABASE_URL=args.database_url,
    REDIS_URL=args.redis_url,
    REDIS_PREFIX=f"ccreports{uuid.uuid4().hex[:6]}",
    LOG_LEVEL="WARNING",
    # As in production: with DEBUG on, Django formats and keeps every statement it runs.
    DEBUG="0",
    SECRET_KEY="bench-" + uuid.uuid4().hex * 2,
    ALLOWED_HOSTS="localhost",
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from agents_app.models import Agent, AgentStatus  # noqa: E402
from agents_app.selectors import service_settings  # noqa: E402
from sessions_app.models import (  # noqa: E402
    ChatSession,
    EventKind,
    Offer,
    OfferOutcome,
    Rating,
    SessionEvent,
    SessionState,
)
from skills_app.models import SkillGroupMember  # noqa: E402
from supervision_app.management.commands.seed_history import explicit_created_at  # noqa: E402
from supervision_app.models import ReportDay  # noqa: E402
from supervision_app.reports import agents_report, summary_report  # noqa: E402
from supervision_app.rollup import rollup_days  # noqa: E402
from supervision_app.snapshot import build_snapshot  # noqa: E402


def seed() -> float:
    """The year of history; returns the seconds it took."""
    started = time.perf_counter()
    call_command("seed_history", sessions=args.sessions, days=DAYS, agents=AGENTS, seed=args.seed)
    return time.perf_counter() - started


def live_floor(rng: random.Random) -> dict:
    """The floor as a busy moment finds it: agents online (some with chats) or away, and
    `WAITING` chats in line or being offered, opened in the last ten minutes. A previous
    run's floor is cleared first."""
    ChatSession.objects.exclude(state=SessionState.ENDED).delete()
    now = timezone.now()
    timeout = service_settings().accept_timeout_seconds
    groups_of: dict[int, list[int]] = {}
    for agent_id, group_id in SkillGroupMember.objects.values_list("agent_id", "group_id"):
        groups_of.setdefault(agent_id, []).append(group_id)
    agents = list(Agent.objects.order_by("pk"))
    online, events = [], []
    for agent in agents:
        roll = rng.random()
        status = "online" if roll < 0.55 else "away" if roll < 0.7 else "offline"
        reason = rng.choice(("lunch", "break", "meeting")) if status == "away" else ""
        agent.status, agent.status_reason = status, reason
        agent.status_changed_at = now - timedelta(seconds=rng.uniform(10, 4 * 3600))
        data = {"status": status, "reason": reason} if reason else {"status": status}
        events.append(
            SessionEvent(
                kind=EventKind.AGENT_STATUS_CHANGED,
                agent_id=agent.pk,
                data=data,
                created_at=agent.status_changed_at,
            )
        )
        if status == "online" and agent.pk in groups_of:
            online.append(agent.pk)
    sessions, offers = [], []

    def chat(state: str, group: int, created, **fields) -> ChatSession:
        session = ChatSession(
            id=uuid.uuid4(),
            state=state,
            customer_name=f"Live customer {len(sessions)}",
            customer_token_hash=uuid.uuid4().hex * 2,
            skill_group_id=group,
            created_at=created,
            last_activity_at=fields.pop("last_activity_at", created),
            **fields,
        )
        sessions.append(session)
        return session

    active = 0
    for agent_id in online:
        for _ in range(rng.choices((0, 1, 2, 3), weights=(3, 4, 2, 1))[0]):
            accepted = now - timedelta(seconds=rng.uniform(30, 1200))
            created = accepted - timedelta(seconds=rng.uniform(2, 60))
            session = chat(
                SessionState.ACTIVE,
                rng.choice(groups_of[agent_id]),
                created,
                agent_id=agent_id,
                accepted_at=accepted,
                last_activity_at=now - timedelta(seconds=rng.uniform(0, 120)),
            )
            offers.append(
                Offer(
                    session=session,
                    agent_id=agent_id,
                    created_at=accepted - timedelta(seconds=3),
                    expires_at=accepted - timedelta(seconds=3) + timedelta(seconds=timeout),
                    timeout_seconds=timeout,
                    outcome=OfferOutcome.ACCEPTED,
                    resolved_at=accepted,
                )
            )
            active += 1
    for _ in range(WAITING):
        agent_id = rng.choice(online)
        created = now - timedelta(seconds=rng.uniform(1, 600))
        offered = rng.random() < 0.4
        state = SessionState.OFFERED if offered else SessionState.QUEUED
        session = chat(state, rng.choice(groups_of[agent_id]), created)
        if offered:
            made = now - timedelta(seconds=rng.uniform(0, timeout - 1))
            offers.append(
                Offer(
                    session=session,
                    agent_id=agent_id,
                    created_at=made,
                    expires_at=made + timedelta(seconds=timeout),
                    timeout_seconds=timeout,
                )
            )
    with transaction.atomic(), explicit_created_at(ChatSession, Offer, SessionEvent):
        Agent.objects.bulk_update(
            agents, ["status", "status_reason", "status_changed_at"], batch_size=1000
        )
        SessionEvent.objects.bulk_create(events, batch_size=5000)
        ChatSession.objects.bulk_create(sessions, batch_size=5000)
        Offer.objects.bulk_create(offers, batch_size=5000)
    statuses = [a.status for a in agents]
    return {
        "waiting": WAITING,
        "active": active,
        "online": statuses.count(AgentStatus.ONLINE),
        "away": statuses.count(AgentStatus.AWAY),
    }


def vacuum() -> None:
    """Visibility map and planner statistics for the rows just written, as autovacuum keeps
    them on a desk that has run a while (else every index-only scan reads the heap too)."""
    tables = (ChatSession, Offer, Rating, SessionEvent, Agent, ReportDay)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(m._meta.db_table for m in tables)}")


def timed(call, repeat: int) -> dict:
    """Best and median of `repeat` runs in ms, after one warm-up run."""
    call()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    return {"best_ms": round(min(runs), 2), "median_ms": round(statistics.median(runs), 2)}


def bare_count() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {ChatSession._meta.db_table}")
        cursor.fetchone()


def main() -> None:
    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    seeding = None if reuse else seed()
    floor = live_floor(rng)
    vacuum()
    ReportDay.objects.all().delete()
    started = time.perf_counter()
    days_rolled = rollup_days()
    rollup_s = time.perf_counter() - started
    vacuum()

    zone = ZoneInfo(service_settings().timezone)  # the reports' days are the desk's
    today = timezone.now().astimezone(zone).date()
    month, year = today - timedelta(days=29), today - timedelta(days=DAYS - 1)
    calls = {
        "count": bare_count,
        "summary_30d": lambda: summary_report(date_from=month, date_to=today, bucket="day"),
        "summary_365d": lambda: summary_report(date_from=year, date_to=today, bucket="day"),
        "agents_30d": lambda: agents_report(date_from=month, date_to=today),
        "snapshot": build_snapshot,
    }
    figures = {name: timed(call, args.repeat) for name, call in calls.items()}
    yardstick = figures["count"]["median_ms"]
    for name, row in figures.items():
        row["median_over_count"] = round(row["median_ms"] / yardstick, 2)
        if name in GOALS_MS:
            row["goal_ms"] = GOALS_MS[name]
            row["pass"] = row["median_ms"] <= GOALS_MS[name]
    held_now = ChatSession.objects.filter(state=SessionState.ENDED).count()
    result = {
        "sessions": held_now,
        "agents": Agent.objects.count(),
        "seeding_s": None if seeding is None else round(seeding, 1),
        "seeding_sessions_per_s": None if seeding is None else round(args.sessions / seeding),
        "floor": floor,
        "rollup_s": round(rollup_s, 2),
        "rollup_days": days_rolled,
        "repeat": args.repeat,
        "figures": figures,
    }
    if seeding is None:
        print(f"history: {held_now:,} ended chats already in {args.database_url.rsplit('/')[-1]}")
    else:
        print(
            f"history: {args.sessions:,} chats over {DAYS} days seeded in {seeding:.1f} s "
            f"({result['seeding_sessions_per_s']:,}/s)"
        )
    print(
        f"floor: {floor['waiting']} waiting, {floor['active']} active chats; "
        f"{floor['online']} of {result['agents']:,} agents online, {floor['away']} away"
    )
    print(f"rollup: {days_rolled} days written in {rollup_s:.2f} s")
    labels = {
        "count": "yardstick: SELECT count(*)",
        "summary_30d": "summary, 30 days by day",
        "summary_365d": "summary, 365 days by day",
        "agents_30d": "agents, 30 days",
        "snapshot": "snapshot",
    }
    print(f"{'':28s} {'best':>9s} {'median':>9s} {'x count':>8s}   goal (median)")
    for name, row in figures.items():
        goal = ""
        if "goal_ms" in row:
            goal = f"≤ {row['goal_ms']} ms: {'PASS' if row['pass'] else 'over'}"
        print(
            f"{labels[name]:28s} {row['best_ms']:7.1f}ms {row['median_ms']:7.1f}ms "
            f"{row['median_over_count']:8.2f}   {goal}"
        )
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
