"""Push latency: service call -> `session.offered` at the agent's socket, beside a bare group_send.

Starts one daphne and one Celery worker (prefork) on a database and Redis of its own choosing,
connects N agent sockets (token auth, as any client), then:

1. bare: `group_send` from this process straight to an agent's group -> frame at its socket
   (channel layer + daphne + WebSocket, no database, no publisher), one probe at a time;
2. service: `session_create` (manual mode) in this process -> commit -> publisher thread ->
   channel layer -> daphne -> `session.offered` at the chosen agent's socket, one at a time;
3. throughput: a Celery task in the worker publishes a burst through `push.to_agent` to one
   agent; the socket counts what arrives and checks every `seq`, so a drop cannot hide.

Prints p50/p95/p99 of 1 and 2, their p99 ratio, and 3's events/s and drops.

    .venv/bin/python bench/push_latency.py --agents 100 --sessions 500 --burst 5000
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.desk import add_store_arguments, fresh_database  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_args() -> argparse.Namespace:
    """The database named here is dropped and created again: give it one of its own."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--probes", type=int, default=500)
    parser.add_argument("--burst", type=int, default=5000)
    add_store_arguments(parser, "cc_push_bench", 12)
    return parser.parse_args()


def setup_env(args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="contactcenter.settings",
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        # A prefix of its own: seq counters, channels and queues never meet another run's.
        REDIS_PREFIX=f"ccbench{uuid.uuid4().hex[:6]}",
        CELERY_TIMER_QUEUE=f"bench-timers-{uuid.uuid4().hex[:6]}",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
    )
    os.environ.update(env)
    return env


def start(name: str, argv: list[str], env: dict) -> subprocess.Popen:
    logs = ROOT / "test-output" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"push_latency-{name}.log", "wb") as log:
        return subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


class AgentSocket:
    """One agent's WebSocket; records when each interesting frame arrived."""

    def __init__(self, agent_id: int, token: str):
        self.agent_id, self.token = agent_id, token
        self.offered: dict[str, float] = {}
        self.published: dict[str, float] = {}
        self.probes: dict[str, float] = {}
        self.ticks: list[int] = []
        self.tick_times: list[float] = []
        self.last_seq: int | None = None
        self.gaps = 0
        self.arrived = asyncio.Event()  # set on every offered/probe frame: no busy polling

    async def open(self, base: str) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            base.replace("http", "ws", 1) + "/ws/agent/",
            origin=base,
            additional_headers={"Authorization": f"Token {self.token}"},
            ping_interval=None,
            proxy=None,
            max_queue=None,
        )
        hello = json.loads(await self.ws.recv())
        self.last_seq = hello["seq"]
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for raw in self.ws:
            now = time.time()
            frame = json.loads(raw)
            kind = frame.get("type")
            seq = frame.get("seq")
            if isinstance(seq, int) and kind != "hello":
                if seq != self.last_seq + 1:
                    self.gaps += 1
                self.last_seq = seq
            if kind in ("session.offered", "probe"):
                self.arrived.set()
            if kind == "session.offered":
                self.offered[frame["session"]["id"]] = now
                self.published[frame["session"]["id"]] = now - frame.get("published_at", now)
            elif kind == "probe":
                self.probes[frame["probe"]] = now
            elif kind == "bench.tick":
                self.ticks.append(frame["n"])
                self.tick_times.append(now)


async def run(args: argparse.Namespace, base: str, env: dict) -> None:
    import redis
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer
    from rest_framework.authtoken.models import Token

    from agents_app.actions.agents import agent_create
    from agents_app.actions.settings import service_settings_update
    from agents_app.actions.status import agent_set_status
    from agents_app.models import ServiceSettings
    from sessions_app import push

    def prepare():
        ServiceSettings.objects.get_or_create(pk=1)
        service_settings_update(
            service_mode="manual", accept_timeout_seconds=3600, default_max_sessions=100
        )
        made = []
        tag = uuid.uuid4().hex[:6]
        for i in range(args.agents):
            agent = agent_create(
                username=f"bench-{tag}-{i}", password="pw-bench", check_password=False
            )
            agent_set_status(agent_id=agent.pk, status="online")
            made.append((agent.pk, Token.objects.create(user=agent.user).key))
        return made

    agents = await sync_to_async(prepare)()
    sockets = [AgentSocket(pk, key) for pk, key in agents]
    for i in range(0, len(sockets), 20):
        await asyncio.gather(*(s.open(base) for s in sockets[i : i + 20]))
    print(f"{len(sockets)} agent sockets connected")
    by_agent = {s.agent_id: s for s in sockets}

    # 1. bare group_send -> daphne -> socket
    layer = get_channel_layer()
    bare: list[float] = []
    for n in range(args.probes):
        target = sockets[n % len(sockets)]
        key = f"p{n}"
        t0 = time.time()
        frame = {"type": "probe", "probe": key}
        await layer.group_send(
            push.agent_group(target.agent_id), {"type": "push.event", "frame": frame}
        )
        while key not in target.probes:
            target.arrived.clear()
            await target.arrived.wait()
        bare.append(target.probes[key] - t0)

    # 2. service call -> session.offered at the agent. The calls run in a driver process of
    # their own, as in production (daphne or a worker), so this process's socket readers and
    # the service's Python work do not share one GIL and skew each other's timings.
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    driver = ctx.Process(target=drive_sessions, args=(child, dict(os.environ)), daemon=True)
    driver.start()
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    from_commit: list[float] = []
    call_time: list[float] = []
    for n in range(args.sessions):
        parent.send(n)
        sid, t0, took, agent_id = await loop.run_in_executor(None, parent.recv)
        call_time.append(took)
        target = by_agent[agent_id]
        while sid not in target.offered:
            target.arrived.clear()
            await target.arrived.wait()
        latencies.append(target.offered[sid] - t0)
        from_commit.append(target.published[sid])
    parent.send(None)
    driver.join(10)

    # 3. burst from a worker process
    from bench.push_tasks import publish_burst

    receiver = sockets[0]
    receiver.ticks.clear()
    receiver.tick_times.clear()
    gaps_before = receiver.gaps
    result_key = f"{env['REDIS_PREFIX']}:bench:burst"
    t0 = time.time()
    publish_burst.apply_async(args=[receiver.agent_id, args.burst, result_key], queue="bench")
    deadline = time.monotonic() + 120
    while len(receiver.ticks) < args.burst and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # anything late or duplicated shows up too
    client = redis.Redis.from_url(args.redis_url, decode_responses=True)
    for _ in range(100):
        result = client.hgetall(result_key)
        if result:
            break
        await asyncio.sleep(0.1)
    client.delete(result_key)
    client.close()

    received = len(receiver.ticks)
    drops = args.burst - len(set(receiver.ticks))
    span = (receiver.tick_times[-1] - receiver.tick_times[0]) if received > 1 else float("nan")

    def line(name: str, values: list[float]) -> str:
        return (
            f"{name:<34} n={len(values):<4} p50 {pct(values, 50) * 1000:6.1f} ms"
            f"  p95 {pct(values, 95) * 1000:6.1f} ms  p99 {pct(values, 99) * 1000:6.1f} ms"
            f"  max {max(values) * 1000:6.1f} ms"
        )

    print()
    print(f"push latency with {len(sockets)} agent sockets on one daphne")
    print(line("bare group_send -> socket", bare))
    print(line("session_create -> session.offered", latencies))
    print(line("  the service call itself", call_time))
    print(line("  on_commit publish -> socket", from_commit))
    ratio = pct(latencies, 99) / pct(bare, 99)
    push_ratio = pct(from_commit, 99) / pct(bare, 99)
    print(f"p99 ratio, whole service call -> socket / bare: {ratio:.2f}x (goal: within 3x)")
    print(f"p99 ratio, on_commit publish -> socket / bare: {push_ratio:.2f}x")
    print()
    print(f"publisher burst from a Celery worker process: {args.burst} events to one agent")
    if result:
        elapsed = float(result["elapsed"])
        print(
            f"  publisher: sent {result['sent']} failed {result['failed']} in {elapsed:.2f} s"
            f" = {int(result['sent']) / elapsed:,.0f} events/s"
            f" (queueing took {float(result['queued']):.2f} s)"
        )
    else:
        print("  publisher: no result from the worker")
    print(
        f"  socket: received {received}, dropped {drops}, seq gaps {receiver.gaps - gaps_before},"
        f" first->last {span:.2f} s = {received / span:,.0f} events/s;"
        f" end-to-end {received / (receiver.tick_times[-1] - t0):,.0f} events/s"
    )
    for s in sockets:
        await s.ws.close()


def drive_sessions(conn, env: dict) -> None:
    """Driver process: create one session per request and report when the call started."""
    os.environ.update(env)
    import django

    django.setup()
    from sessions_app.actions.create import session_create
    from sessions_app.models import Offer

    while (n := conn.recv()) is not None:
        t0 = time.time()
        session, _ = session_create(customer_name=f"Bench {n}", message="hello")
        took = time.time() - t0
        agent_id = Offer.objects.filter(session=session, outcome="").values_list(
            "agent_id", flat=True
        )[0]
        conn.send((str(session.pk), t0, took, agent_id))
    from sessions_app import push

    push.flush()


def main() -> None:
    args = parse_args()
    env = setup_env(args)
    fresh_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    port = free_port()
    daphne = start(
        "daphne",
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "contactcenter.asgi:application",
        ],
        env,
    )
    worker = start(
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "contactcenter",
            "worker",
            "-Q",
            "bench",
            "-P",
            "prefork",
            "-c",
            "1",
            "-I",
            "bench.push_tasks",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        dict(env, PYTHONPATH=str(ROOT)),
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        time.sleep(2)  # the worker's start-up
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        asyncio.run(run(args, f"http://127.0.0.1:{port}", env))
    finally:
        stop(daphne)
        stop(worker)


if __name__ == "__main__":
    main()
