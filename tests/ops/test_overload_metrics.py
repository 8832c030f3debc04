"""Overload is visible on /metrics: how late the web process's event loop runs, and how long
requests wait before Django starts on them (contactcenter/overload.py)."""

import asyncio
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contactcenter.overload import watch_loop
from sessions_app import metrics
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)  # the daphne reads the test database


def scrape(base: str) -> dict[tuple, float]:
    response = httpx.get(f"{base}/metrics", timeout=10)  # 127.0.0.1 may read it
    assert response.status_code == 200, response.text
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            le = sample.labels.get("le")
            found[(sample.name, None if le is None else float(le))] = sample.value
    return found


def count(scraped: dict, name: str) -> float:
    return scraped.get((f"cc_{name}_seconds_count", None), 0.0)


def above(scraped: dict, name: str, bound: float) -> float:
    """How many observations exceeded `bound` seconds."""
    return count(scraped, name) - scraped.get((f"cc_{name}_seconds_bucket", bound), 0.0)


def test_a_daphne_reports_its_request_queue_and_loop_lag(live_server_url):
    before = scrape(live_server_url)
    with httpx.Client(base_url=live_server_url, timeout=10) as client:
        for _ in range(30):
            assert client.get("/healthz").status_code == 200
    # Every request's wait was observed, and the loop keeps being timed (recorded figures reach
    # Redis about once a second)
    wait_until(
        lambda: (
            count(scrape(live_server_url), "request_queue") >= count(before, "request_queue") + 30
        ),
        timeout=15,
    )
    wait_until(
        lambda: (
            count(scrape(live_server_url), "event_loop_lag") >= count(before, "event_loop_lag") + 4
        ),
        timeout=15,
    )
    after = scrape(live_server_url)
    # An idle desk's requests wait well under a second
    assert above(after, "request_queue", 1.0) == above(before, "request_queue", 1.0)


def test_a_blocked_event_loop_shows_as_lag(live_server_url):
    before = scrape(live_server_url)

    async def blocked_once() -> None:
        watcher = asyncio.get_running_loop().create_task(watch_loop(0.05))
        await asyncio.sleep(0.2)
        time.sleep(0.6)  # what a CPU-bound callback does to every socket of the process
        await asyncio.sleep(0.2)
        watcher.cancel()

    asyncio.run(blocked_once())
    metrics.flush()
    # The stall was seen as one late wake-up of at least half a second
    after = scrape(live_server_url)
    assert above(after, "event_loop_lag", 0.5) >= above(before, "event_loop_lag", 0.5) + 1
