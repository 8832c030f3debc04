"""The REST tests' staff user, here too; and this process's list of webhooks forgotten after
each test (the tables are emptied between tests without the actions knowing)."""

import pytest

from tests.api.conftest import staff_user  # noqa: F401 -- a fixture, by name
from webhooks_app.outbox import forget_subscriptions


@pytest.fixture(autouse=True)
def _forget_webhooks():
    yield
    forget_subscriptions()
