"""A short bench/faults.py in CI: each fault, one at a time, under a light load."""

import pytest

from bench.faults import run_faults
from bench.load import Config
from bench.topology import Topology

CFG = dict(
    rate=3, agents=8, expire_ratio=0.1, accept_timeout=2, idle_timeout=2, exchanges=(1, 2),
    reply_timeout=6,
)  # fmt: skip


def run(faults: tuple[str, ...]) -> dict:
    with Topology(sweep_seconds=1) as topo:
        return run_faults(Config(duration=3, drain=4, **CFG), topo, faults=faults, settle=1)


def assert_recovered_without_loss(result: dict) -> None:
    for fault in result["faults"]:
        assert fault.recovery is not None, f"{fault.fault} never recovered: {fault.notes}"
        assert fault.overdue_timers == 0, f"{fault.fault}: timers left overdue {fault.notes}"
        assert fault.invariants == 0, f"{fault.fault}: check_invariants after it failed"
    assert result["lost"] == []
    assert result["served_twice"] == []
    assert result["invariants_status"] == 0, result["invariants"]
    # Last, so a failure here says the rest held: while a service is down the API owes 503.
    for fault in result["faults"]:
        assert fault.status_500 == 0, f"{fault.fault}: 500s {fault.notes}"


def test_killed_worker_and_killed_daphne_lose_no_session():
    """Given load on 2 daphne + 2 workers, when a worker and then a daphne are SIGKILLed and
    restarted, then clients reconnect, every overdue timer is resolved by the sweep within
    its interval + 2 s, and no session is lost or served twice."""
    result = run(("worker_kill", "daphne_kill"))

    assert [f.fault for f in result["faults"]] == ["worker_kill", "daphne_kill"]
    assert_recovered_without_loss(result)


@pytest.mark.parametrize("fault", ["redis_restart", "postgres_restart"])
def test_restarted_redis_or_postgres_recovers_by_itself(fault):
    """When the topology's own Redis or PostgreSQL restarts under load, the API answers 503
    (never 500) while it is down and the desk recovers with nothing lost, without any of its
    processes dying of it: a Celery worker reconnects rather than exit and wait for a restart
    (contactcenter/broker.py)."""
    result = run((fault,))

    assert_recovered_without_loss(result)
    assert result["faults"][0].restarted == {}, result["faults"][0].notes
