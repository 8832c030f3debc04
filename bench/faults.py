"""Fault benchmark: the load of bench/load.py while processes and services die, one at a time.

Faults, in order: SIGKILL a Celery worker (then start it again); SIGKILL one daphne (its clients
reconnect to the other and rebuild from hello; the daphne is then started again); restart
Redis; restart PostgreSQL (the API must answer 503 while it is down, never 500). It kills and
restarts only what its own topology started: its own redis-server and PostgreSQL cluster.

After each fault it measures the recovery time (the fault's end until a new session reaches an
agent again, every agent is connected and a task sent to the workers runs) and, sweep interval
+ 2 s after recovery, counts overdue timers. At the end: no session lost, none served twice,
check_invariants clean. It prints a table: fault, recovery time, sessions affected, violations.

    .venv/bin/python bench/faults.py --duration 120
"""

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import Config, Run, print_report, run_load  # noqa: E402
from bench.topology import REDIS_PREFIX, Topology  # noqa: E402

FAULTS = ("worker_kill", "daphne_kill", "redis_restart", "postgres_restart")


@dataclass
class FaultResult:
    fault: str
    downtime: float = 0.0  # how long the component was gone (our doing)
    recovery: float | None = None  # from its return until a new session reached an agent
    in_flight: int = 0  # sessions not ended when the fault struck
    status_500: int = 0
    overdue_timers: int = 0
    invariants: int = 0  # check_invariants violations right after the overdue check
    restarted: dict[str, int] = field(default_factory=dict)  # processes that died of it
    notes: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return self.status_500 + self.overdue_timers + self.invariants + (self.recovery is None)


class FaultDriver:
    def __init__(self, topo: Topology, faults=FAULTS, settle: float = 4.0, warmup: float = 4.0):
        self.topo, self.faults, self.settle, self.warmup = topo, faults, settle, warmup
        self.results: list[FaultResult] = []
        self._celery = None  # a Celery client for the recovery probe, made on first use

    async def __call__(self, run: Run) -> None:
        await asyncio.sleep(self.warmup)
        for name in self.faults:
            errors_before = Counter(run.stats.errors)
            restarts_before = Counter(self.topo.restarts)
            result = FaultResult(name)
            result.in_flight = await asyncio.to_thread(self.in_flight)
            started = time.monotonic()
            await getattr(self, name)(run, result)
            result.downtime = time.monotonic() - started
            back = time.monotonic()
            if await self.recovered(run, timeout=60):
                result.recovery = time.monotonic() - back
            # The sweep must catch every timer whose task died with the fault.
            await asyncio.sleep(self.topo.sweep_seconds + 2)
            result.overdue_timers = await asyncio.to_thread(
                self.overdue, self.topo.sweep_seconds + 2
            )
            result.invariants = await asyncio.to_thread(self.invariants)
            delta = Counter(run.stats.errors)
            delta.subtract(errors_before)
            result.status_500 = delta.get("http_500", 0)
            result.notes += [f"{k}={v}" for k, v in sorted(delta.items()) if v > 0]
            restarted = Counter(self.topo.restarts)
            restarted.subtract(restarts_before)
            result.restarted = {k: v for k, v in restarted.items() if v}
            result.notes += [f"supervisor restarted {k} x{v}" for k, v in result.restarted.items()]
            self.results.append(result)
            await asyncio.sleep(self.settle)

    # --- the faults --------------------------------------------------------------------------

    async def worker_kill(self, run: Run, result: FaultResult) -> None:
        with self.topo.hold("worker0"):
            await asyncio.to_thread(self.topo.procs["worker0"].kill, signal.SIGKILL)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(self.topo.worker_start, 0)

    async def daphne_kill(self, run: Run, result: FaultResult) -> None:
        index = len(self.topo.daphne_ports) - 1
        with self.topo.hold(f"daphne{index}"):
            await asyncio.to_thread(self.topo.procs[f"daphne{index}"].kill, signal.SIGKILL)
            # Its clients reconnect to the other daphne now; it comes back for the next faults.
            await asyncio.sleep(1.0)
            await self.agents_connected(run, timeout=30)
            await asyncio.to_thread(self.topo.daphne_start, index)

    async def redis_restart(self, run: Run, result: FaultResult) -> None:
        await asyncio.to_thread(self.topo.procs["redis"].kill, signal.SIGTERM)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(self.topo.redis_start)

    async def postgres_restart(self, run: Run, result: FaultResult) -> None:
        await asyncio.to_thread(self.topo.procs["postgres"].kill, signal.SIGINT)  # fast stop
        health = await self.health_codes(run, seconds=2.0)
        result.notes.append(f"healthz while down: {dict(health)}")
        await asyncio.to_thread(self.topo.pg_start)

    # --- measuring ---------------------------------------------------------------------------

    async def health_codes(self, run: Run, seconds: float) -> Counter:
        codes: Counter = Counter()
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            for url in self.topo.urls:
                try:
                    codes[(await run.http.get(f"{url}/healthz", timeout=3)).status_code] += 1
                except httpx.HTTPError as exc:
                    codes[type(exc).__name__] += 1
            await asyncio.sleep(0.2)
        run.stats.errors.update(
            {f"healthz_{code}": n for code, n in codes.items() if code not in (200, 503)}
        )
        return codes

    async def agents_connected(self, run: Run, timeout: float) -> bool:
        clients = getattr(run, "agent_clients", [])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(c.connected.is_set() for c in clients):
                return True
            await asyncio.sleep(0.1)
        return False

    async def recovered(self, run: Run, timeout: float) -> bool:
        """Every process up, every agent connected, and a new session reaches an agent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.topo.all_up():
                await asyncio.sleep(0.1)
                continue
            if not await self.agents_connected(run, timeout=deadline - time.monotonic()):
                return False
            try:
                response = await run.http.post(
                    f"{run.urls[0]}/api/sessions/",
                    json={"customer_name": "Recovery probe"},
                    timeout=5,
                )
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
                continue
            if response.status_code != 201:
                if response.status_code == 500:
                    run.stats.errors["http_500"] += 1
                await asyncio.sleep(0.2)
                continue
            sid = response.json()["id"]
            token = response.json()["customer_token"]
            offered = await self.wait_offered(run, sid, deadline)
            await run.http.post(
                f"{run.urls[0]}/api/sessions/{sid}/end/", headers={"X-Customer-Token": token}
            )
            # Routing needs no worker; timers do. A worker that lost Redis stays alive for a
            # while after kombu's crash: only a task that runs shows the workers are back.
            if offered and await asyncio.to_thread(self.tasks_run, deadline):
                return True
        return False

    def tasks_run(self, deadline: float) -> bool:
        """A bare task sent to the workers runs before `deadline` (sent again every 2 s: a
        worker dying of kombu's crash may have taken the first)."""
        import redis
        from celery import Celery

        if self._celery is None:  # sends by name: this process needs neither Django nor tasks
            self._celery = Celery("faults", broker=self.topo.redis_url)
            # The desk's queues are under its key prefix (contactcenter/settings.py).
            self._celery.conf.broker_transport_options = {
                "global_keyprefix": f"{REDIS_PREFIX}:celery:"
            }
        key = f"faults:probe:{time.monotonic_ns()}"
        client = redis.Redis.from_url(self.topo.redis_url, socket_timeout=2)
        sent = 0.0
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(Exception):  # Redis may still be starting
                    if client.llen(key):
                        return True
                    if time.monotonic() - sent > 2:
                        self._celery.send_task(
                            "bench.probe_tasks.timer_probe_task", args=[0, key], queue="default"
                        )
                        sent = time.monotonic()
                time.sleep(0.1)
            return False
        finally:
            client.close()

    async def wait_offered(self, run: Run, sid: str, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if sid in run.stats.early_offers:
                run.stats.early_offers.pop(sid, None)
                return True
            await asyncio.sleep(0.02)
        return False

    def in_flight(self) -> int:
        return self.topo.psql(
            "select count(*) from sessions_app_chatsession where state <> 'ended'"
        )[0][0]

    def invariants(self) -> int:
        """check_invariants under load: grace of the sweep interval + 2 s, as for the timers."""
        found = self.topo.manage(
            "check_invariants", "--json", "--grace", str(self.topo.sweep_seconds + 2), check=False
        )
        try:
            return json.loads(found.stdout.strip().splitlines()[-1])["violations"]
        except (ValueError, IndexError, KeyError):
            return 1

    def overdue(self, grace: float) -> int:
        offers = self.topo.psql(
            "select count(*) from sessions_app_offer where outcome = '' "
            f"and expires_at < now() - interval '{grace} seconds'"
        )[0][0]
        idle = self.topo.psql(
            "select count(*) from sessions_app_chatsession where state = 'active' "
            f"and idle_deadline < now() - interval '{grace} seconds'"
        )[0][0]
        if offers + idle:
            # Say which, for whoever has to find out why: how overdue, oldest first.
            rows = self.topo.psql(
                "select 'offer', round(extract(epoch from now() - expires_at)::numeric, 2) "
                "from sessions_app_offer where outcome = '' "
                f"and expires_at < now() - interval '{grace} seconds' union all "
                "select 'idle', round(extract(epoch from now() - idle_deadline)::numeric, 2) "
                "from sessions_app_chatsession where state = 'active' "
                f"and idle_deadline < now() - interval '{grace} seconds' order by 2 desc limit 8"
            )
            print(f"  overdue ({offers} offers, {idle} idle), s past due: {rows}", flush=True)
        return offers + idle


def print_table(results: list[FaultResult]) -> None:
    print(f"\n{'fault':18s} {'down s':>7s} {'recovery s':>11s} {'in flight':>10s} "
          f"{'500s':>5s} {'overdue':>8s} {'invariants':>10s} {'violations':>11s}")  # fmt: skip
    for r in results:
        recovery = f"{r.recovery:.2f}" if r.recovery is not None else "NEVER"
        print(
            f"{r.fault:18s} {r.downtime:7.1f} {recovery:>11s} {r.in_flight:10d} "
            f"{r.status_500:5d} {r.overdue_timers:8d} {r.invariants:10d} {r.violations:11d}"
        )
        if r.notes:
            print(f"{'':18s} {'; '.join(r.notes)}")


def run_faults(cfg: Config, topo: Topology, faults=FAULTS, settle: float = 4.0) -> dict:
    driver = FaultDriver(topo, faults=faults, settle=settle)
    result = run_load(cfg, topo, during=driver)
    result["faults"] = driver.results
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--settle", type=float, default=15, help="seconds between faults")
    parser.add_argument("--json", default="")
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help=f"which, in order (default: {','.join(FAULTS)})"
    )
    parser.add_argument(
        "--accept-timeout", type=int, default=4, help="seconds an offer stands (desk default 30)"
    )
    args = parser.parse_args()
    cfg = Config(
        duration=args.duration,
        rate=args.rate,
        agents=args.agents,
        accept_timeout=args.accept_timeout,
    )
    with Topology() as topo:
        faults = tuple(f for f in args.faults.split(",") if f)
        unknown = set(faults) - set(FAULTS)
        if unknown:
            parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
        result = run_faults(cfg, topo, faults=faults, settle=args.settle)
    print_report(result)
    print_table(result["faults"])
    total = sum(r.violations for r in result["faults"])
    lost, twice = len(result["lost"]), len(result["served_twice"])
    print(f"\nlost sessions {lost}, served twice {twice}, fault violations {total}, "
          f"check_invariants exit {result['invariants_status']}")  # fmt: skip
    if args.json:
        figures = {k: v for k, v in result.items() if k not in ("run", "faults")}
        figures["faults"] = [vars(r) for r in result["faults"]]
        Path(args.json).write_text(json.dumps(figures, default=str))
    ok = not (total or lost or twice or result["invariants_status"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
