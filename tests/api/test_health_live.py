"""/healthz of a real daphne whose database or Redis is not there: a quick 503 naming it."""

import time

import httpx
import pytest

from tests import procs


@pytest.fixture
def daphne_with(db):
    started = []

    def start(**env: str) -> str:
        port = procs.free_port()
        argv = procs.daphne(port).argv
        proc = procs.Proc(f"daphne-health-{port}", argv, procs.child_env(**env)).start()
        started.append(proc)
        procs.wait_port(port, proc)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in started:
        proc.stop()


@pytest.mark.parametrize(
    ("down", "expected"),
    [
        ({"DATABASE_URL"}, {"database": "down", "redis": "ok"}),
        ({"REDIS_URL"}, {"database": "ok", "redis": "down"}),
        ({"DATABASE_URL", "REDIS_URL"}, {"database": "down", "redis": "down"}),
    ],
    ids=["database-down", "redis-down", "both-down"],
)
def test_healthz_answers_503_naming_what_is_down_without_hanging(daphne_with, down, expected):
    # Given a daphne pointed at a port where nothing listens, for the database and/or Redis
    nowhere = procs.free_port()
    env = {}
    if "DATABASE_URL" in down:
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{nowhere}/gone"
    if "REDIS_URL" in down:
        env["REDIS_URL"] = f"redis://127.0.0.1:{nowhere}/0"
    base = daphne_with(**env)
    # When a load balancer asks for its health
    started = time.monotonic()
    response = httpx.get(f"{base}/healthz", timeout=15, trust_env=False)
    # Then it hears 503 and what is down, within a few seconds
    assert response.status_code == 503
    assert response.json() == expected
    assert time.monotonic() - started < 5
