"""After each hostile test, the desk's invariants still hold: what was refused left nothing
half-done behind (checked before the test's tables are flushed)."""

import pytest

from sessions_app.invariants import check_all


@pytest.fixture(autouse=True)
def invariants_hold_afterwards(request):
    if request.node.get_closest_marker("django_db") is None:
        yield
        return
    # The test's database, torn down after this fixture: the check reads what the test left.
    request.getfixturevalue("_django_db_helper")
    yield
    found = check_all(grace_seconds=5.0)
    assert not found, [str(violation) for violation in found]
