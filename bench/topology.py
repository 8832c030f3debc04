"""Start the production shape on one machine: N daphne, N Celery workers, one beat, own Redis/PG.

Used by bench/load.py, bench/faults.py and tests/ops. Everything it starts it can kill and start
again, and it never touches the machine's shared services: Redis is its own redis-server on a
free port, PostgreSQL its own cluster (initdb in a temporary folder, run as the `postgres` user
because initdb refuses root) or, with `pg_url`, a database the caller names.

    python bench/topology.py            # start, print the URLs, wait for Ctrl-C
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
STAFF = ("bench-staff", "bench-staff-pw")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate, timeout: float, what: str, proc: "Proc | None" = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{what}: process exited\n{proc.log_tail()}")
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not ready within {timeout}s\n{proc.log_tail() if proc else ''}")


class Proc:
    """One child process in its own process group, logging to a file; kill and start again."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path, user: str = ""):
        self.name, self.argv, self.env, self.user = name, argv, env, user
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Proc":
        argv = ["runuser", "-u", self.user, "--", *self.argv] if self.user else self.argv
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 20) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM, timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def peak_rss_mb(self) -> float | None:
        """VmHWM (the high-water mark of resident memory) of the process, in MB."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None


def cpu_seconds_by_tree(roots: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each root's live process tree."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name (field 2) may hold spaces: split after its closing parenthesis.
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    totals = dict.fromkeys(roots, 0.0)
    for pid, seconds in used.items():
        node = pid
        while node > 1 and node not in totals:
            node = parent.get(node, 0)
        if node in totals:
            totals[node] += seconds
    return totals


REDIS_PREFIX = "ccbench"  # the desk's keys, its Celery queues among them


@dataclass
class Topology:
    daphnes: int = 2
    workers: int = 2
    worker_concurrency: int = 4
    beat: bool = True
    pg_url: str = ""  # empty: run our own PostgreSQL cluster
    sweep_seconds: float = 2.0
    extra_env: dict = field(default_factory=dict)
    keep_dir: bool = False

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each process this topology started (with its children)."""
        named = {proc.pid: name for name, proc in self.procs.items() if proc.alive()}
        return {named[pid]: used for pid, used in cpu_seconds_by_tree(list(named)).items()}

    def __post_init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cc-topology-"))
        os.chmod(self.dir, 0o755)
        # Logs outlive the run (the temporary folder does not): test-output/ is git-ignored.
        self.logs = ROOT / "test-output" / "bench" / f"{time.strftime('%H%M%S')}-{os.getpid()}"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.redis_port = free_port()
        self.pg_port = free_port()
        self.daphne_ports = [free_port() for _ in range(self.daphnes)]
        self.procs: dict[str, Proc] = {}
        # Like systemd's Restart=always: app processes that die are started again, except
        # those a fault holds (it kills and restarts them itself).
        self.supervise = True
        self.held: set[str] = set()
        self.restarts: Counter = Counter()
        self._lock = threading.RLock()
        self._watching = threading.Event()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.database_url = self.pg_url or f"postgres://postgres@127.0.0.1:{self.pg_port}/cc"

    @classmethod
    def attach(cls, urls: list[str], redis_url: str, database_url: str) -> "Topology":
        """A topology someone else runs: nothing is started or stopped, only used."""
        topo = cls(daphnes=0, workers=0, beat=False, pg_url=database_url)
        topo.daphne_ports = [int(url.rsplit(":", 1)[1].strip("/")) for url in urls]
        topo.redis_url = redis_url
        return topo

    # --- environment -------------------------------------------------------------------------

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="contactcenter.settings",
            DEBUG="0",
            SECRET_KEY="bench-" + "k" * 40,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            REDIS_PREFIX=REDIS_PREFIX,
            TIMER_SWEEP_SECONDS=str(self.sweep_seconds),
            # One client address drives the whole load: the throttles must not shape it.
            THROTTLE_SESSION_CREATE="1000000/minute",
            THROTTLE_CUSTOMER_MESSAGE="1000000/minute",
            METRICS_ALLOW_IPS="127.0.0.1",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.daphne_ports]

    def manage(self, *args: str, check: bool = True, timeout: float = 300):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    # --- Redis -------------------------------------------------------------------------------

    def _redis_proc(self) -> Proc:
        # Append-only file, as a production Redis keeps: a restart keeps seq counters, groups
        # and queued Celery messages instead of starting empty.
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            str(self.dir),
        ]
        return Proc("redis", argv, dict(os.environ), self.logs)

    def redis_start(self) -> None:
        proc = self.procs["redis"] = self._redis_proc().start()
        wait_for(lambda: port_open(self.redis_port), 20, "redis", proc)

    # --- PostgreSQL --------------------------------------------------------------------------

    @property
    def pg_data(self) -> Path:
        return self.dir / "pgdata"

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def pg_init(self) -> None:
        self.pg_data.mkdir()
        shutil.chown(self.pg_data, "postgres", "postgres")
        self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.pg_data), "-U", "postgres", "--auth=trust", "-E",
            "UTF8", "--no-sync",
        )  # fmt: skip

    def pg_start(self) -> None:
        argv = [
            str(PG_BIN / "postgres"),
            "-D",
            str(self.pg_data),
            "-p",
            str(self.pg_port),
            "-k",
            str(self.pg_data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=400",
            "-c",
            "shared_buffers=256MB",
            # What the profile cannot see from the clients: slow statements and lock waits.
            "-c",
            "log_min_duration_statement=200",
            "-c",
            "log_lock_waits=on",
            "-c",
            "deadlock_timeout=100ms",
            # Which statements the database spends its time on (load.py --profile prints them).
            "-c",
            "shared_preload_libraries=pg_stat_statements",
        ]
        proc = self.procs["postgres"] = Proc(
            "postgres", argv, dict(os.environ), self.logs, "postgres"
        )
        proc.start()
        wait_for(self._pg_ready, 30, "postgres", proc)

    def _pg_ready(self) -> bool:
        result = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.pg_port)],
            capture_output=True,
        )
        return result.returncode == 0

    def pg_create_db(self) -> None:
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres",
             "cc"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def top_statements(self, n: int = 12) -> str:
        """The statements PostgreSQL spent most time executing, with calls and mean ms."""
        rows = self.psql(
            "SELECT round(total_exec_time)::int, calls, round(mean_exec_time::numeric, 2),"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements"
            f" ORDER BY total_exec_time DESC LIMIT {int(n)}"
        )
        rows += [("--- most frequent ---", "", "", "")] + self.psql(
            "SELECT round(total_exec_time)::int, calls, round(mean_exec_time::numeric, 2),"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements"
            f" ORDER BY calls DESC LIMIT {int(n) * 2}"
        )
        totals = self.psql(
            "SELECT (SELECT sum(calls) FROM pg_stat_statements), sessions, xact_commit,"
            " xact_rollback FROM pg_stat_database WHERE datname = 'cc'"
        )[0]
        head = "statements {} | connections opened {} | commits {} | rollbacks {}".format(*totals)
        return "\n".join([head] + [" | ".join(str(v) for v in row) for row in rows])

    # --- the app -----------------------------------------------------------------------------

    def daphne_start(self, index: int) -> Proc:
        port = self.daphne_ports[index]
        argv = [
            sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
            "contactcenter.asgi:application",
        ]  # fmt: skip
        proc = self.procs[f"daphne{index}"] = Proc(f"daphne{index}", argv, self.env(), self.logs)
        proc.start()
        wait_for(lambda: port_open(port), 40, f"daphne{index}", proc)
        return proc

    def worker_start(self, index: int) -> Proc:
        argv = [
            sys.executable, "-m", "celery", "-A", "contactcenter", "worker",
            "-Q", "timers,default", "-P", "prefork", "-c", str(self.worker_concurrency),
            "-n", f"bench{index}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
            "--include", "bench.probe_tasks", "-l", "INFO",
        ]  # fmt: skip
        proc = self.procs[f"worker{index}"] = Proc(f"worker{index}", argv, self.env(), self.logs)
        proc.start()
        wait_for(lambda: "ready." in proc.log_tail(400), 60, f"worker{index}", proc)
        return proc

    def beat_start(self) -> Proc:
        argv = [
            sys.executable, "-m", "celery", "-A", "contactcenter", "beat", "-l", "INFO",
            "--schedule", str(self.dir / "celerybeat-schedule"), "--pidfile=",
        ]  # fmt: skip
        proc = self.procs["beat"] = Proc("beat", argv, self.env(), self.logs)
        return proc.start()

    def start(self) -> "Topology":
        self.redis_start()
        if not self.pg_url:
            self.pg_init()
            self.pg_start()
            self.pg_create_db()
        self.manage("migrate", "--noinput")
        for index in range(self.workers):
            self.worker_start(index)
        if self.beat:
            self.beat_start()
        for index in range(self.daphnes):
            self.daphne_start(index)
        threading.Thread(target=self._supervisor, name="supervisor", daemon=True).start()
        return self

    @contextlib.contextmanager
    def hold(self, name: str):
        """Keep the supervisor's hands off `name` while a fault kills and restarts it."""
        with self._lock:
            self.held.add(name)
        try:
            yield
        finally:
            with self._lock:
                self.held.discard(name)

    def all_up(self) -> bool:
        """Every process alive and none being (re)started."""
        with self._lock:
            return not self.held and all(proc.alive() for proc in self.procs.values())

    def _supervisor(self) -> None:
        starters = {"beat": lambda: self.beat_start()}
        while self._watching.wait(0) is False:
            time.sleep(0.5)
            if not self.supervise:
                continue
            for name, proc in list(self.procs.items()):
                if name in ("redis", "postgres") or proc.alive():
                    continue
                with self._lock:
                    if name in self.held or self._watching.is_set():
                        continue
                    self.restarts[name] += 1
                with self.hold(name), contextlib.suppress(RuntimeError):
                    if name.startswith("worker"):
                        self.worker_start(int(name[6:]))
                    elif name.startswith("daphne"):
                        self.daphne_start(int(name[6:]))
                    else:
                        starters[name]()

    def stop(self) -> None:
        self._watching.set()  # the supervisor stops restarting
        order = [n for n in self.procs if n not in ("redis", "postgres")] + ["redis"]
        for name in order:
            if name in self.procs:
                self.procs[name].stop()
        if "postgres" in self.procs:
            self.procs["postgres"].kill(signal.SIGINT)  # fast shutdown
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Topology":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- data the load needs -----------------------------------------------------------------

    def seed(self, *, agents: int, settings: dict) -> dict:
        """Staff user, `agents` agents (offline) with API tokens, and the service settings.

        Fixture data, so it goes straight through the services in one process (creating 200
        users over REST would spend minutes in password hashing); the load itself then uses
        only the public API. Returns {"staff_token", "agents": [{"id", "token"}...]}.
        """
        import json

        script = SEED_SCRIPT.format(
            agents=agents, settings=json.dumps(settings), staff=STAFF[0], staff_pw=STAFF[1]
        )
        out = self.manage("shell", "-c", script).stdout
        return json.loads(out.strip().splitlines()[-1])

    def psql(self, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.database_url.replace("postgres://", "postgresql://")) as conn:
            cursor = conn.execute(sql)
            return list(cursor) if cursor.description else []


SEED_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from rest_framework.authtoken.models import Token
from agents_app.models import Agent, ServiceSettings
from agents_app.actions.status import agent_set_status
from skills_app.models import SkillGroupMember
from skills_app.selectors import default_group

User = get_user_model()
staff, _ = User.objects.get_or_create(username={staff!r}, defaults=dict(is_staff=True,
    is_superuser=True))
staff.password = make_password({staff_pw!r}); staff.save()
out = {{"staff_token": Token.objects.get_or_create(user=staff)[0].key, "agents": []}}
for i in range({agents}):
    user, _ = User.objects.get_or_create(username=f"bench-agent-{{i}}")
    agent, _ = Agent.objects.get_or_create(user=user, defaults=dict(display_name=f"Agent {{i}}"))
    SkillGroupMember.objects.get_or_create(group=default_group(), agent=agent)
    if agent.status != "offline":
        agent_set_status(agent_id=agent.pk, status="offline")
    out["agents"].append({{"id": agent.pk, "token": Token.objects.get_or_create(user=user)[0].key}})
ServiceSettings.objects.get_or_create(pk=1)
ServiceSettings.objects.filter(pk=1).update(**json.loads({settings!r}))
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daphnes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-url", default="", help="use this database instead of our own")
    args = parser.parse_args()
    topo = Topology(daphnes=args.daphnes, workers=args.workers, pg_url=args.pg_url)
    with topo:
        print("web:", " ".join(topo.urls), "redis:", topo.redis_url, "db:", topo.database_url)
        print("logs:", topo.logs, "(Ctrl-C stops everything)")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
