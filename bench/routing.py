"""Routing cost: the session create call (create + route + commit), beside a plain write.

Runs in this process on a PostgreSQL database of its own (dropped and made again) and a Redis
database of its own; no worker is needed (no offer is left to expire: the countdown is an
hour). Prints, in one run:

1. the create call (`session_create` in manual mode: insert, route inside its group, commit,
   the pushes after commit) p50/p99 over N sessions, interleaved with a TPC-B-like write
   transaction (three updates, a select, an insert, a commit) on the same connection: the
   yardstick, since these machines are shared and noisy;
2. the same with 100 agents in 1 group and with 2,000 agents in 40 groups (sessions spread
   over the groups): routing must not cost more with agents in other groups;
3. a burst: 500 sessions created at once over 20 groups by 8 threads, and the time until every
   one is routed (sessions/s).

    .venv/bin/python bench/routing.py [--sessions 500] [--json FILE]
"""

import argparse
import cProfile
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile, as bench/load.py prints them."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500, help="create calls per scenario")
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--history", type=int, default=20000, help="ended chats behind each scenario's desk"
    )
    parser.add_argument(
        "--statements", action="store_true", help="also print database time per statement"
    )
    parser.add_argument("--json", dest="json_path", help="also write the figures to this file")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="cProfile the create calls of the first scenario into FILE (pstats format)",
    )
    add_store_arguments(parser, "cc_routing_bench", 13)
    return parser.parse_args()


from bench.desk import add_store_arguments, make_agents, make_groups, setup  # noqa: E402

args = parse_args()
setup(args.database_url, args.redis_url, "ccroute")

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from agents_app.actions.settings import service_settings_update  # noqa: E402
from agents_app.models import Agent  # noqa: E402
from sessions_app.actions.create import session_create  # noqa: E402
from sessions_app.actions.end import session_end  # noqa: E402
from sessions_app.models import ChatSession, SessionState  # noqa: E402
from skills_app.models import SkillGroup  # noqa: E402

YARDSTICK_SETUP = """
CREATE TABLE IF NOT EXISTS bench_branches (bid int PRIMARY KEY, bbalance int);
CREATE TABLE IF NOT EXISTS bench_tellers (tid int PRIMARY KEY, bid int, tbalance int);
CREATE TABLE IF NOT EXISTS bench_accounts (aid int PRIMARY KEY, bid int, abalance int);
CREATE TABLE IF NOT EXISTS bench_history (tid int, bid int, aid int, delta int,
    mtime timestamp DEFAULT now());
INSERT INTO bench_branches SELECT b, 0 FROM generate_series(1, 10) b ON CONFLICT DO NOTHING;
INSERT INTO bench_tellers SELECT t, 1 + t % 10, 0 FROM generate_series(1, 100) t
    ON CONFLICT DO NOTHING;
INSERT INTO bench_accounts SELECT a, 1 + a % 10, 0 FROM generate_series(1, 100000) a
    ON CONFLICT DO NOTHING;
"""


def tpcb_once(n: int) -> None:
    """pgbench's TPC-B-like transaction, through the same Django connection."""
    aid, tid, bid, delta = 1 + n * 7919 % 100000, 1 + n % 100, 1 + n % 10, n % 5000 - 2500
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "UPDATE bench_accounts SET abalance = abalance + %s WHERE aid = %s", [delta, aid]
        )
        cur.execute("SELECT abalance FROM bench_accounts WHERE aid = %s", [aid])
        cur.fetchone()
        cur.execute(
            "UPDATE bench_tellers SET tbalance = tbalance + %s WHERE tid = %s", [delta, tid]
        )
        cur.execute(
            "UPDATE bench_branches SET bbalance = bbalance + %s WHERE bid = %s", [delta, bid]
        )
        cur.execute(
            "INSERT INTO bench_history (tid, bid, aid, delta) VALUES (%s, %s, %s, %s)",
            [tid, bid, aid, delta],
        )


def seed_history(groups: list[SkillGroup], agents: list[Agent], count: int) -> None:
    """Chats a desk that has run a while has behind it (ended, each with its accepted offer
    and two messages): the tables routing reads are measured at a realistic size, not
    empty."""
    from sessions_app.models import Message, Offer

    now = timezone.now()
    sessions = ChatSession.objects.bulk_create(
        [
            ChatSession(
                customer_name="Past",
                customer_token_hash="x" * 64,
                state=SessionState.ENDED,
                agent=agents[n % len(agents)],
                skill_group=groups[n % len(groups)],
                accepted_at=now,
                ended_at=now,
                end_reason="agent_ended",
            )
            for n in range(count)
        ],
        batch_size=2000,
    )
    accepted = {"expires_at": now, "timeout_seconds": 30, "outcome": "accepted"}
    Offer.objects.bulk_create(
        [Offer(session=s, agent_id=s.agent_id, resolved_at=now, **accepted) for s in sessions],
        batch_size=2000,
    )
    both = ("customer", "agent")
    Message.objects.bulk_create(
        [Message(session=s, sender=who, body="Hello") for s in sessions for who in both],
        batch_size=4000,
    )


def analyze() -> None:
    """Planner statistics for the rows just made in bulk, as autovacuum keeps them on a desk
    that has run a while (without them the planner takes 2,000 agents for 2)."""
    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


class StatementTimes:
    """With --statements: the database time of the create call, per statement (its first
    words), summed over the calls."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.calls = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:70]
            self.spent[key] = self.spent.get(key, 0.0) + time.perf_counter() - started

    def report(self, title: str) -> None:
        print(f"database time per create call, by statement ({title}):")
        for key, spent in sorted(self.spent.items(), key=lambda kv: -kv[1]):
            print(f"  {spent / self.calls * 1000:6.2f} ms  {key}")


def interleaved(
    groups: list[SkillGroup], count: int, times: StatementTimes | None = None, profiler=None
):
    """Create calls and yardstick transactions, one after the other, `count` of each."""
    create, yardstick = [], []
    for n in range(count):
        group = groups[n % len(groups)]
        started = time.perf_counter()
        if profiler is not None:
            with profiler:
                session, _ = session_create(
                    customer_name="Bench", message="Hi", skill_group=group.pk
                )
        elif times is None:
            session, _ = session_create(customer_name="Bench", message="Hi", skill_group=group.pk)
        else:
            with connection.execute_wrapper(times):
                session, _ = session_create(
                    customer_name="Bench", message="Hi", skill_group=group.pk
                )
            times.calls += 1
        create.append(time.perf_counter() - started)
        assert session.state == SessionState.OFFERED, session.state
        started = time.perf_counter()
        tpcb_once(n)
        yardstick.append(time.perf_counter() - started)
    return {
        "create_p50_ms": ms(pct(create, 50)),
        "create_p99_ms": ms(pct(create, 99)),
        "yardstick_p50_ms": ms(pct(yardstick, 50)),
        "yardstick_p99_ms": ms(pct(yardstick, 99)),
        "p50_ratio": round(pct(create, 50) / pct(yardstick, 50), 2),
        "p99_ratio": round(pct(create, 99) / pct(yardstick, 99), 2),
        "n": count,
    }


def end_all() -> None:
    for pk in ChatSession.objects.exclude(state="ended").values_list("pk", flat=True):
        session_end(session_id=pk, reason="staff_ended")


def burst(groups: list[SkillGroup], total: int, threads: int) -> dict:
    """`total` sessions created at once by `threads` threads over the groups; until routed."""
    barrier = threading.Barrier(threads)
    made: list = []
    errors: list = []

    def run(index: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait()
            for n in range(index, total, threads):
                group = groups[n % len(groups)]
                session, _ = session_create(customer_name="Burst", skill_group=group.pk)
                made.append(session.pk)
        except Exception as exc:  # noqa: BLE001 -- reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    created = time.perf_counter() - started
    while ChatSession.objects.filter(pk__in=made, state=SessionState.QUEUED).exists():
        if time.perf_counter() - started > 60:
            break
        time.sleep(0.005)
    routed_in = time.perf_counter() - started
    still = ChatSession.objects.filter(pk__in=made, state=SessionState.QUEUED).count()
    return {
        "sessions": len(made),
        "errors": errors[:5],
        "created_s": round(created, 3),
        "all_routed_s": round(routed_in, 3),
        "still_queued": still,
        "sessions_per_s": round(len(made) / routed_in, 1),
    }


def main() -> None:
    service_settings_update(service_mode="manual", accept_timeout_seconds=3600)
    with connection.cursor() as cur:
        cur.execute(YARDSTICK_SETUP)
    small_agents = make_agents(100, "one")
    small = make_groups(small_agents, 1, "one-group-")
    seed_history(small, small_agents, args.history)
    Agent.objects.filter(memberships__isnull=True).update(status="offline")
    analyze()
    interleaved(small, 50)  # warm-up: connections, caches, the first queries
    end_all()
    times = StatementTimes() if args.statements else None
    profiler = cProfile.Profile() if args.profile else None
    one = interleaved(small, args.sessions, times, profiler)
    if profiler is not None:
        profiler.dump_stats(args.profile)
    if times:
        times.report("100 agents, 1 group")
    end_all()
    Agent.objects.filter(memberships__group__in=small).update(status="offline")
    many_agents = make_agents(2000, "many")
    many_groups = make_groups(many_agents, 40, "forty-")
    seed_history(many_groups, many_agents, args.history)
    analyze()
    interleaved(many_groups, 50)
    end_all()
    times = StatementTimes() if args.statements else None
    forty = interleaved(many_groups, args.sessions, times)
    if times:
        times.report("2,000 agents, 40 groups")
    end_all()
    spike = burst(many_groups[:20], args.burst, args.threads)
    end_all()
    figures = {
        "one_group_100_agents": one,
        "forty_groups_2000_agents": forty,
        "p50_2000_over_100": round(forty["create_p50_ms"] / one["create_p50_ms"], 2),
        "burst": spike,
    }
    print(f"{'scenario':28s} {'create p50':>10s} {'p99':>8s} {'yardstick p50':>14s} "
          f"{'p99':>8s} {'p50 x':>6s} {'p99 x':>6s}")  # fmt: skip
    for name, row in (("100 agents, 1 group", one), ("2,000 agents, 40 groups", forty)):
        print(
            f"{name:28s} {row['create_p50_ms']:10.2f} {row['create_p99_ms']:8.2f} "
            f"{row['yardstick_p50_ms']:14.2f} {row['yardstick_p99_ms']:8.2f} "
            f"{row['p50_ratio']:6.2f} {row['p99_ratio']:6.2f}"
        )
    print(f"create p50 with 2,000 agents / with 100: {figures['p50_2000_over_100']:.2f}x")
    print(
        f"burst: {spike['sessions']} sessions over 20 groups by {args.threads} threads: all "
        f"routed in {spike['all_routed_s']:.3f} s = {spike['sessions_per_s']:.0f} sessions/s "
        f"(created in {spike['created_s']:.3f} s; still queued {spike['still_queued']})"
    )
    if spike["errors"]:
        print("burst errors:", spike["errors"])
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
