"""Fixtures for skill-group tests (make_group is in tests/conftest.py, shared)."""

from tests.sessions_app.conftest import (  # noqa: F401 -- fixtures
    Clock,
    _after_commit_failures_fail_the_test,  # noqa: F401
    auto,
    clock,
    manual,
)
