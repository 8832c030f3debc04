"""CPU per step of a chat's life, in the actions themselves: this process and its PostgreSQL
backend, side by side.

`bench/load.py` says how much CPU a chat costs the whole desk; this says how much of it each
action costs before any web server or socket is involved: a chat created (and offered), the
offer accepted, a customer's message, an agent's reply (which starts the idle timer), the chat
ended by its agent, and an idle chat ended by the timer. Each runs N times, one after another,
with DEBUG off, on a PostgreSQL database of its own (dropped and made again) with a desk of 100
agents in one group, pushes published to a Redis database of its own as in production. For
each step it prints the wall time (p50), this process's CPU and the database backend's CPU per
call (read from /proc: run it on the database's machine), and the statements per call.

    .venv/bin/python bench/steps.py [--n 300] [--json FILE]
"""

import argparse
import cProfile
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import pct  # noqa: E402 -- the percentile every bench prints


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="calls per step")
    parser.add_argument("--json", dest="json_path", help="also write the figures to this file")
    parser.add_argument("--profile", metavar="FILE", help="cProfile every step into FILE (pstats)")
    add_store_arguments(parser, "cc_steps_bench", 13)
    return parser.parse_args()


from bench.desk import add_store_arguments, make_agents, make_groups, setup  # noqa: E402

args = parse_args()
setup(args.database_url, args.redis_url, "ccsteps")

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from agents_app.actions.settings import service_settings_update  # noqa: E402
from agents_app.models import Agent  # noqa: E402
from sessions_app.actions.create import session_create  # noqa: E402
from sessions_app.actions.end import session_end  # noqa: E402
from sessions_app.actions.messages import message_send, session_idle_end  # noqa: E402
from sessions_app.actions.offers import offer_accept  # noqa: E402
from sessions_app.models import ChatSession, EndReason, Sender  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PROFILER = cProfile.Profile() if args.profile else None


def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend so far (/proc, same machine)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def measure(name: str, items: list, call) -> dict:
    """`call(item)` for every item: wall p50, this process's and the backend's CPU per call."""
    walls = []
    statements = 0
    cpu0, db0 = time.process_time(), backend_cpu()
    if PROFILER is not None:
        PROFILER.enable()
    for item in items:
        connection.queries_log.clear()  # a full log would make the capture count nothing
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            call(item)
        walls.append(time.perf_counter() - started)
        statements += len(queries.captured_queries)
    if PROFILER is not None:
        PROFILER.disable()
    cpu, db = time.process_time() - cpu0, backend_cpu() - db0
    n = len(items)
    # The capture itself costs a little Python per statement: the CPU is an upper bound.
    return {
        "step": name,
        "n": n,
        "wall_p50_ms": 1000 * pct(walls, 50),
        "python_cpu_ms": 1000 * cpu / n,
        "db_cpu_ms": 1000 * db / n,
        "statements": statements / n,
    }


def main() -> None:
    service_settings_update(
        service_mode="manual", accept_timeout_seconds=3600, customer_idle_timeout_seconds=3600
    )
    agents = make_agents(100, "steps")
    group = make_groups(agents, 1, "steps-")[0]
    by_pk = {agent.pk: agent for agent in Agent.objects.all()}
    n = args.n
    # Warm-up: connections, prepared statements, caches.
    for _ in range(30):
        session, _ = session_create(customer_name="Warm", message="Hi", skill_group=group.pk)
        session_end(session_id=session.pk, reason=EndReason.STAFF_ENDED)
    rows, made = [], []

    def create(_):
        session, _ = session_create(customer_name="Ann", message="Hello", skill_group=group.pk)
        made.append(session)

    rows.append(measure("create (routed, offered)", range(n), create))
    rows.append(
        measure(
            "accept",
            made,
            lambda s: offer_accept(session_id=s.pk, agent=by_pk[s.offer_made.agent_id]),
        )
    )
    serving = {s.pk: by_pk[s.offer_made.agent_id] for s in made}
    rows.append(
        measure(
            "customer message",
            made,
            lambda s: message_send(session_id=s.pk, sender=Sender.CUSTOMER, body="A question"),
        )
    )
    rows.append(
        measure(
            "agent reply (idle timer starts)",
            made,
            lambda s: message_send(
                session_id=s.pk, sender=Sender.AGENT, body="An answer", agent=serving[s.pk]
            ),
        )
    )
    half = len(made) // 2
    rows.append(
        measure(
            "end by the agent",
            made[:half],
            lambda s: session_end(
                session_id=s.pk, reason=EndReason.AGENT_ENDED, agent=serving[s.pk]
            ),
        )
    )
    past = timezone.now() - timedelta(seconds=1)
    ChatSession.objects.filter(pk__in=[s.pk for s in made[half:]]).update(idle_deadline=past)
    rows.append(
        measure("idle end (timer)", made[half:], lambda s: session_idle_end(session_id=s.pk))
    )
    print(
        f"{'step':32s} {'n':>5s} {'wall p50':>9s} {'Python CPU':>11s} {'DB CPU':>8s} "
        f"{'statements':>10s}"
    )
    for row in rows:
        print(
            f"{row['step']:32s} {row['n']:5d} {row['wall_p50_ms']:6.2f} ms "
            f"{row['python_cpu_ms']:8.2f} ms {row['db_cpu_ms']:5.2f} ms {row['statements']:10.1f}"
        )
    total_cpu = sum(r["python_cpu_ms"] + r["db_cpu_ms"] for r in rows)
    print(f"one chat through every step once: {total_cpu:.1f} ms of CPU (this process + database)")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(rows, indent=2))
    if PROFILER is not None:
        PROFILER.dump_stats(args.profile)


if __name__ == "__main__":
    main()
