"""Item 5: `sync` is bounded per socket, so a few bytes in cannot pull megabytes out."""

import pytest

from sessions_app.actions.create import session_create
from tests.ws.helpers import Client, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_flood_of_syncs_gets_a_few_hellos_then_throttled_errors(service_settings):
    session, token = session_create(customer_name="Flo", message="Hi")

    async def scenario():
        customer = Client(f"/ws/customer/{session.pk}/?token={token}")
        await customer.connect()
        replies = [await customer.command({"type": "sync"}) for _ in range(30)]
        acks = [r for r in replies if r["type"] == "ack"]
        refused = [r for r in replies if r["type"] == "error"]
        assert len(acks) == 5
        assert {r["code"] for r in refused} == {"throttled"}
        assert all(1 <= r["retry_after"] <= 11 for r in refused)
        hellos = [f for f in customer.frames if f["type"] == "hello"]
        assert len(hellos) == 1 + 5  # the connect's, and one per allowed sync
        # The socket still works
        assert (await customer.command({"type": "heartbeat"}))["type"] == "ack"
        await customer.close()

    run(scenario())
