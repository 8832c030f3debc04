"""Chromium (Debian's) driven by Playwright against the real daphne, worker and beat."""

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PASSWORD = "pw-browser-agent"


@pytest.fixture(scope="module")
def playwright_session():
    if not os.path.exists(CHROMIUM) and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed: run `bash scripts/install-browser.sh`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright_session):
    """Autoplay allowed, so the test can see the ringtone element playing."""
    b = playwright_session.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*ARGS, "--autoplay-policy=no-user-gesture-required"],
    )
    yield b
    b.close()


@pytest.fixture
def desk(live_server_url, celery_worker, celery_beat, service_settings):
    """What a browser test needs: the live server and short timers in the settings row."""
    service_settings.accept_timeout_seconds = 3
    service_settings.customer_idle_timeout_seconds = 2
    service_settings.save()
    return service_settings


@pytest.fixture(scope="session")
def widget_shop(live_server_url):
    """The widget's demo shop (scripts/widget_demo.py) embedding the live desk, on the origin
    the live daphne lets frame the chat; a test sets `.options` (the script's data-*)."""
    from scripts.widget_demo import serve
    from tests.procs import WIDGET_DEMO_PORT

    server = serve(WIDGET_DEMO_PORT, desk=live_server_url)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def shot(request):
    """shot(page, "step") saves test-output/screenshots/<test>-<n>-<step>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower()).strip("_")
    counter = {"n": 0}

    def take(page, step: str) -> None:
        counter["n"] += 1
        page.screenshot(path=str(SHOTS / f"{name}-{counter['n']:02d}-{step}.png"), full_page=True)

    return take


@pytest.fixture(autouse=True)
def _close_contexts(browser):
    """Each test's pages go away with it, so no open workspace outlives its test."""
    yield
    for context in list(browser.contexts):
        context.close()
