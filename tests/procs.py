"""Real processes for tests: daphne, Celery worker and beat, sharing the test database."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: the test database, the test Redis, test settings."""
    db = connection.settings_dict
    url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=f"{url}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        REDIS_PREFIX=settings.REDIS_PREFIX,
        TIMER_SWEEP_SECONDS=str(settings.TIMER_SWEEP_SECONDS),
        PYTHONUNBUFFERED="1",
        # The servers run as in production: a query on an event loop's thread is an error
        # there (the test process itself allows it, for Playwright; tests/settings.py).
        DJANGO_ALLOW_ASYNC_UNSAFE="",
        # Names in pushes read every time: code that needs one on an event loop's thread is
        # found at once, not only when a busy server lets the cache go stale.
        PUSH_NAME_TTL_SECONDS="0",
        # The servers read the webhooks at every event: one made by a test is heard at once.
        WEBHOOK_SUBSCRIPTIONS_TTL="0",
    )
    env.update(extra)
    return env


class Proc:
    """A child process that logs to test-output/<name>.log and can be killed and started again."""

    started: dict[str, "Proc"] = {}  # by name, the last of each started in this test session

    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        self.name, self.argv, self.env = name, argv, env
        self.popen: subprocess.Popen | None = None
        OUTPUT.mkdir(exist_ok=True)
        self.log_path = OUTPUT / f"{name}.log"
        self.log_offset = 0

    def start(self) -> "Proc":
        log = open(self.log_path, "ab")  # noqa: SIM115 -- the child owns it while it runs
        # The log is appended to across runs and restarts: what this start wrote begins here.
        self.log_offset = log.tell()
        self.popen = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        Proc.started[self.name] = self
        return self

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def send_signal(self, sig: int) -> None:
        """Send `sig` to the process and its children (SIGSTOP / SIGCONT hold one still)."""
        if self.running():
            os.killpg(self.popen.pid, sig)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            self.popen.wait(15)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_since_start(self) -> str:
        """What the process logged since its last start."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def celery_worker(
    name: str = "worker",
    concurrency: int = 2,
    include: str = "",
    queues: str = "",
    pool: str = "prefork",
    **env: str,
) -> Proc:
    """A worker on the desk's timer and default queues (or `queues`); `include` adds task
    modules, `env` settings."""
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "contactcenter",
        "worker",
        "-Q",
        queues or f"{settings.CELERY_TIMER_QUEUE},{settings.CELERY_TASK_DEFAULT_QUEUE}",
        "-P",
        pool,
        "-c",
        str(concurrency),
        "-n",
        f"{name}-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        *(["--include", include] if include else []),
        "-l",
        "INFO",
    ]
    return Proc(name, argv, child_env(**env))


def wait_worker_ready(proc: Proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
        if "ready." in proc.log_since_start():  # not a "ready." of an earlier run or start
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not ready in {timeout}s:\n{proc.log_tail()}")


def celery_beat(tmpdir: Path) -> Proc:
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "contactcenter",
        "beat",
        "-l",
        "INFO",
        "--schedule",
        str(tmpdir / "celerybeat-schedule"),
        "--pidfile",
        "",
    ]
    return Proc("beat", argv, child_env())


# The widget's demo shop (scripts/widget_demo.py) in browser tests: a site of its own origin,
# which the session's daphne lets frame the chat (tests/browser/conftest.py starts it).
WIDGET_DEMO_PORT = free_port()


def daphne(port: int) -> Proc:
    argv = [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "contactcenter.asgi:application",
    ]
    origins = f"http://127.0.0.1:{WIDGET_DEMO_PORT}"
    return Proc("daphne", argv, child_env(WIDGET_ALLOWED_ORIGINS=origins))


def wait_port(port: int, proc: Proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not listening in {timeout}s:\n{proc.log_tail()}")


def flush_test_redis() -> None:
    """Forget queued tasks, channel data and seq counters of earlier runs (test Redis only)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()
