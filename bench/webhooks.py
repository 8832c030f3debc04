"""Webhook deliveries: throughput from one delivery worker, and commit → receiver latency.

    .venv/bin/python bench/webhooks.py [--backlog 3000] [--rate 200] [--seconds 5] [--json F]

Runs a real delivery worker (Celery, `-P solo`: one process, as Procfile's `webhooks`) against
its own PostgreSQL database and two receivers in this process on 127.0.0.1: a fast one
answering in 5 ms and a slow one answering in 2 s. Prints, beside a yardstick measured in the
same run (a bare `httpx` POST to the same fast receiver, one at a time on a kept connection):

- deliveries/s to the fast receiver draining a backlog, alone and while the slow receiver has
  a backlog of its own (goal: ≥ 500/s, and the slow one costs the fast one ≤ 10 %);
- commit → receiver latency p50/p99 at a steady `--rate` (goal: p99 within 5× the bare POST's).

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/cc_bench_webhooks),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/10); it touches only its own database, queue
and key prefix.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cc_bench_webhooks"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
ENV = {
    "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
    "DATABASE_URL": DB_URL,
    "REDIS_URL": REDIS_URL,
    "REDIS_PREFIX": "ccbench_wh",
    "WEBHOOK_QUEUE": "bench_webhooks",
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_PUMP_SECONDS": "1",
    "DEBUG": "false",
    "SECRET_KEY": "bench-only-key-not-a-secret-0123456789abcdef",
    "ALLOWED_HOSTS": "127.0.0.1",
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

import httpx  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from webhooks_app.actions import webhook_create  # noqa: E402
from webhooks_app.delivery import wake  # noqa: E402
from webhooks_app.models import Delivery, OutboxEvent, Webhook  # noqa: E402

# --- receivers ----------------------------------------------------------------------------------


class Receivers:
    """Two HTTP/1.1 receivers on an event loop of their own: arrival time per delivery id."""

    def __init__(self) -> None:
        self.arrived: dict[str, dict[str, float]] = {"fast": {}, "slow": {}}
        self.loop = asyncio.new_event_loop()
        self.ports: dict[str, int] = {}
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready) -> None:
        asyncio.set_event_loop(self.loop)

        async def start():
            for name, delay in (("fast", 0.005), ("slow", 2.0)):
                server = await asyncio.start_server(
                    lambda r, w, n=name, d=delay: self._serve(r, w, n, d), "127.0.0.1", 0
                )
                self.ports[name] = server.sockets[0].getsockname()[1]

        self.loop.run_until_complete(start())
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader, writer, name: str, delay: float) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, delivery = 0, None
                for line in head.split(b"\r\n")[1:]:
                    key, _, value = line.partition(b":")
                    key = key.strip().lower()
                    if key == b"content-length":
                        length = int(value)
                    elif key == b"x-desk-delivery":
                        delivery = value.strip().decode()
                await reader.readexactly(length)
                if delivery is not None:
                    self.arrived[name].setdefault(delivery, time.time())
                await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}/hook"


# --- the worker ---------------------------------------------------------------------------------


def start_worker() -> subprocess.Popen:
    argv = [
        sys.executable, "-m", "celery", "-A", "contactcenter", "worker", "-Q",
        ENV["WEBHOOK_QUEUE"], "-P", "solo", "-n", f"bench-webhooks-{os.getpid()}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING",
    ]  # fmt: skip
    log = open(ROOT / "test-output" / "bench-webhooks-worker.log", "w")  # noqa: SIM115
    return subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def kick_until_done(ids: set, name: str, receivers: Receivers, timeout: float) -> None:
    """Wake the worker (as beat would) until every id reached the receiver."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ids <= receivers.arrived[name].keys():
            return
        wake()
        time.sleep(0.2)
    missing = len(ids - receivers.arrived[name].keys())
    raise SystemExit(f"{missing} deliveries to {name} never arrived in {timeout:g}s")


# --- making deliveries ----------------------------------------------------------------------------


def make_deliveries(hook: Webhook, count: int) -> tuple[set, float]:
    """`count` pending deliveries for the webhook, committed together; (ids, commit time)."""
    now = timezone.now()
    events = [
        OutboxEvent(id=uuid.uuid4(), type="ping", created_at=now, data={"n": n})
        for n in range(count)
    ]
    rows = [
        Delivery(
            id=uuid.uuid4(), webhook=hook, event=e, event_type="ping", created_at=now,
            next_attempt_at=now,
        )
        for e in events
    ]  # fmt: skip
    with transaction.atomic():
        OutboxEvent.objects.bulk_create(events, batch_size=1000)
        Delivery.objects.bulk_create(rows, batch_size=1000)
    committed = time.time()
    wake()
    return {str(r.id) for r in rows}, committed


def drain_rate(hook, receivers, backlog: int) -> tuple[float, float]:
    """Deliveries/s to the fast receiver while it drains `backlog` (from the first to the last
    arrival), and the seconds it took from the commit."""
    ids, committed = make_deliveries(hook, backlog)
    kick_until_done(ids, "fast", receivers, timeout=120)
    times = sorted(receivers.arrived["fast"][i] for i in ids)
    return (len(times) - 1) / max(times[-1] - times[0], 1e-9), times[-1] - committed


def steady_latency(hook, receivers, rate: float, seconds: float) -> list[float]:
    """Deliveries committed at `rate`/s in batches every 50 ms; commit → arrival, in ms."""
    committed_at: dict[str, float] = {}
    per_batch = max(1, round(rate / 20))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        ids, at = make_deliveries(hook, per_batch)
        committed_at.update(dict.fromkeys(ids, at))
        time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))
    kick_until_done(set(committed_at), "fast", receivers, timeout=60)
    arrived = receivers.arrived["fast"]
    return [(arrived[i] - at) * 1000 for i, at in committed_at.items()]


def bare_posts(url: str, count: int = 300) -> list[float]:
    """The yardstick: one bare POST at a time on a kept connection, in ms."""
    took = []
    with httpx.Client() as client:
        for n in range(count):
            started = time.perf_counter()
            client.post(url, content=b'{"bare": true}', headers={"X-Desk-Delivery": f"bare{n}"})
            took.append((time.perf_counter() - started) * 1000)
    return took


def bare_throughput(url: str, count: int = 2000, concurrency: int = 8) -> float:
    """The second yardstick: bare httpx POSTs, `concurrency` at a time on kept connections,
    per second (what one process could send with no desk at all)."""

    async def run() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits) as client:
            gate = asyncio.Semaphore(concurrency)

            async def one(n: int) -> None:
                async with gate:
                    await client.post(url, content=b"{}", headers={"X-Desk-Delivery": f"t{n}"})

            started = time.perf_counter()
            await asyncio.gather(*(one(n) for n in range(count)))
            return count / (time.perf_counter() - started)

    return asyncio.run(run())


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=3000, help="fast deliveries to drain")
    parser.add_argument("--slow-backlog", type=int, default=400)
    parser.add_argument("--rate", type=float, default=200, help="steady deliveries/s")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    (ROOT / "test-output").mkdir(exist_ok=True)
    call_command("migrate", verbosity=0)
    Webhook.objects.all().delete()
    OutboxEvent.objects.all().delete()
    receivers = Receivers()
    fast = webhook_create(url=receivers.url("fast"), events=["ping"], description="fast")
    slow = webhook_create(url=receivers.url("slow"), events=["ping"], description="slow")
    worker = start_worker()
    try:
        time.sleep(3)  # the worker's boot
        bare = bare_posts(receivers.url("fast"))
        raw = bare_throughput(receivers.url("fast"))
        drain_rate(fast, receivers, 200)  # warm-up: connections, the worker's imports
        alone, alone_took = drain_rate(fast, receivers, args.backlog)
        slow_ids, _ = make_deliveries(slow, args.slow_backlog)
        time.sleep(0.5)
        beside, beside_took = drain_rate(fast, receivers, args.backlog)
        slow_done = len(slow_ids & receivers.arrived["slow"].keys())
        latency = steady_latency(fast, receivers, args.rate, args.seconds)
    finally:
        worker.kill()
        worker.wait(timeout=20)
    figures = {
        "bare_post_ms": {"p50": pct(bare, 50), "p99": pct(bare, 99)},
        "bare_httpx_8_at_a_time_per_s": raw,
        "fast_alone_over_bare_httpx": alone / raw,
        "fast_alone_per_s": alone,
        "fast_beside_slow_backlog_per_s": beside,
        "slow_cost_pct": (1 - beside / alone) * 100,
        "slow_delivered_meanwhile": slow_done,
        "commit_to_receiver_ms": {"p50": pct(latency, 50), "p99": pct(latency, 99)},
        "latency_p99_over_bare_p99": pct(latency, 99) / pct(bare, 99),
        "backlog": args.backlog,
        "rate": args.rate,
    }
    print(f"yardstick: bare httpx POST  p50 {pct(bare, 50):6.2f} ms   p99 {pct(bare, 99):6.2f} ms")
    print(f"yardstick: bare httpx, 8 at a time: {raw:7.0f} POSTs/s (no desk at all)")
    print(
        f"fast receiver, alone:            {alone:7.0f} deliveries/s ({alone_took:.1f} s;"
        f" {alone / raw:.2f} of the bare client's rate)"
    )
    print(
        f"fast receiver, slow backlogged:  {beside:7.0f} deliveries/s ({beside_took:.1f} s);"
        f" slow one meanwhile {slow_done}/{args.slow_backlog}"
    )
    print(f"  the slow endpoint costs the fast one {figures['slow_cost_pct']:+.1f} % (goal ≤ 10)")
    print(
        f"commit → receiver at {args.rate:g}/s: p50 {pct(latency, 50):6.1f} ms"
        f"   p99 {pct(latency, 99):6.1f} ms"
        f"   ({figures['latency_p99_over_bare_p99']:.1f}× the bare POST's p99; goal ≤ 5)"
    )
    print(
        f"goal ≥ 500 deliveries/s from one worker process: {'met' if alone >= 500 else 'NOT met'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
