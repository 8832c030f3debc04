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
    assert time.monotonic() - started < 3  # a load balancer waits about that long


@pytest.mark.parametrize("down", ["DATABASE_URL", "REDIS_URL"], ids=["database-down", "redis-down"])
def test_api_answers_503_with_detail_not_500_while_a_backend_is_down(daphne_with, down):
    # Given a daphne whose database or Redis does not answer
    nowhere = procs.free_port()
    target = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{nowhere}/gone",
        "REDIS_URL": f"redis://127.0.0.1:{nowhere}/0",
    }[down]
    base = daphne_with(**{down: target})
    # When a customer tries to start a chat
    response = httpx.post(
        f"{base}/api/sessions/",
        json={"customer_name": "Ann", "message": "Hi"},
        timeout=15,
        trust_env=False,
    )
    # Then the answer says to come back later, in the error shape, with Retry-After
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
