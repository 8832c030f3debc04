"""Fixtures for skill-group tests: groups made through the actions, as staff make them."""

import pytest

from tests.sessions_app.conftest import (  # noqa: F401 -- fixtures
    Clock,
    _after_commit_failures_fail_the_test,  # noqa: F401
    auto,
    clock,
    manual,
)


@pytest.fixture
def make_group(db):
    """make_group("Billing", {agent: 1, other: 3}, overflow=group, after=60)."""
    from skills_app.actions import skill_group_create

    def make(name: str, members: dict | None = None, *, overflow=None, after=None, **fields):
        members = [{"agent_id": a.pk, "priority": p} for a, p in (members or {}).items()]
        if overflow is not None:
            fields.update(overflow_group_id=overflow.pk, overflow_after_seconds=after)
        return skill_group_create(name=name, members=members, **fields)

    return make
