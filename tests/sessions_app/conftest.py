"""Fixtures for the service-layer tests: a controllable clock and settings shortcuts."""

from datetime import timedelta

import pytest
from django.utils import timezone


class Clock:
    """Moves `timezone.now()` forward without sleeping; the database rows stay as written."""

    def __init__(self, real_now):
        self._real_now = real_now
        self.offset = timedelta(0)

    def now(self):
        return self._real_now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    found = Clock(timezone.now)
    monkeypatch.setattr(timezone, "now", found.now)
    return found


@pytest.fixture
def manual(service_settings):
    """Manual mode with a 30 s offer timeout (far beyond any sweep a live beat might run)."""
    service_settings.service_mode = "manual"
    service_settings.accept_timeout_seconds = 30
    service_settings.save()
    return service_settings


@pytest.fixture
def auto(service_settings):
    service_settings.service_mode = "auto"
    service_settings.save()
    return service_settings


@pytest.fixture(autouse=True)
def _after_commit_failures_fail_the_test(caplog):
    """Pushes and timer scheduling run after commit and only log failures: surface them here."""
    yield
    failures = [
        r
        for r in caplog.records
        if r.name.startswith(("sessions_app", "agents_app", "core")) and r.levelname == "ERROR"
    ]
    assert not failures, [r.getMessage() for r in failures]
