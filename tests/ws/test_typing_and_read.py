"""Typing (outside seq, at most one every 2 s) and read receipts (numbered), both ways."""

import asyncio

import pytest

from tests.ws.helpers import Client, chat_of, in_thread, run
from tests.ws.test_agent_socket import agent_client

pytestmark = pytest.mark.django_db(transaction=True)


def test_typing_reaches_the_other_side_without_seq_and_is_throttled(service_settings, make_agent):
    alice = make_agent()
    sid, token = chat_of(alice)

    async def scenario():
        agent, customer = agent_client(alice), Client(f"/ws/customer/{sid}/?token={token}")
        await agent.connect()
        await customer.connect()
        # The customer types: the agent sees it, with no seq
        first = await customer.command({"type": "typing"})
        assert first["forwarded"] is True
        typing = await agent.expect("typing")
        assert (typing["session_id"], typing["sender"]) == (sid, "customer")
        assert "seq" not in typing
        # Again at once: acknowledged, not forwarded
        again = await customer.command({"type": "typing"})
        assert again["forwarded"] is False
        # The agent types: the customer sees it
        ack = await agent.command({"type": "typing", "session_id": sid})
        assert ack["forwarded"] is True
        seen = await customer.expect("typing")
        assert seen["sender"] == "agent" and "seq" not in seen
        # After 2 s the customer's next one goes through again
        await asyncio.sleep(2.1)
        assert (await customer.command({"type": "typing"}))["forwarded"] is True
        await agent.expect("typing")
        # An agent cannot type into someone else's chat
        bob = agent_client(stranger)
        await bob.connect()
        refused = await bob.command({"type": "typing", "session_id": sid})
        assert (refused["type"], refused["code"]) == ("error", "not_found")
        for ws in (agent, customer, bob):
            await ws.close()

    stranger = make_agent()
    run(scenario())


def test_read_receipts_reach_the_writer_numbered_and_only_when_something_changed(
    service_settings, make_agent
):
    alice = make_agent()
    sid, token = chat_of(alice)

    async def scenario():
        agent, customer = agent_client(alice), Client(f"/ws/customer/{sid}/?token={token}")
        hello = await agent.connect()
        chat = await customer.connect()
        first = chat["messages"][0]
        assert first["read_at"] is None
        # The agent reads the customer's first message: the customer hears it, numbered
        ack = await agent.command(
            {"type": "message.read", "session_id": sid, "message_id": first["id"]}
        )
        assert ack["marked"] == 1
        read = await customer.expect("message.read")
        assert (read["message_id"], read["reader"]) == (first["id"], "agent")
        assert isinstance(read["seq"], int)
        # Again: nothing changed, nothing sent
        assert (
            await agent.command(
                {"type": "message.read", "session_id": sid, "message_id": first["id"]}
            )
        )["marked"] == 0
        # The agent replies; the customer reads it; the agent hears it
        sent = await agent.command({"type": "message.send", "session_id": sid, "body": "Hello!"})
        assert (
            await customer.command({"type": "message.read", "message_id": sent["message"]["id"]})
        )["marked"] == 1
        seen = await agent.expect("message.read")
        assert (seen["message_id"], seen["reader"]) == (sent["message"]["id"], "customer")
        assert seen["seq"] > hello["seq"]
        # And the customer's snapshot shows when its message was read
        again = Client(f"/ws/customer/{sid}/?token={token}")
        fresh = await again.connect()
        assert fresh["messages"][0]["read_at"] is not None
        for ws in (agent, customer, again):
            await ws.close()
        assert not [f for f in customer.frames if f.get("type") == "message.read"][1:]

    run(scenario())


def test_the_end_asks_the_customer_for_a_rating_and_the_agent_hears_the_score(
    service_settings, make_agent
):
    from sessions_app.actions.rating import rating_submit

    alice = make_agent()
    sid, token = chat_of(alice)

    async def scenario():
        agent, customer = agent_client(alice), Client(f"/ws/customer/{sid}/?token={token}")
        await agent.connect()
        await customer.connect()
        await agent.command({"type": "session.end", "session_id": sid})
        ended = await customer.expect("session.ended")
        assert ended["rating_requested"] is True and ended["rating_scale"] == 5
        await in_thread(rating_submit, session_id=sid, score=4)
        rated = await agent.expect("session.rated")
        assert (rated["session_id"], rated["score"], rated["scale"]) == (sid, 4, 5)
        # A reload after rating: nothing more to ask
        again = Client(f"/ws/customer/{sid}/?token={token}")
        hello = await again.connect()
        assert hello["rating_requested"] is False and hello["session"]["rating"]["score"] == 4
        for ws in (agent, customer, again):
            await ws.close()

    run(scenario())
