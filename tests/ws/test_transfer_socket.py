"""Transfer over the workspace socket: the frames each side gets, as the contract lists them."""

import pytest

from tests.ws.helpers import Client, chat_of, run
from tests.ws.test_agent_socket import agent_client

pytestmark = pytest.mark.django_db(transaction=True)


def test_transfer_accepted_over_the_socket_moves_the_chat_with_every_frame(
    service_settings, make_agent
):
    alice, bob = make_agent(name="alice"), make_agent(name="bob")
    sid, token = chat_of(alice)

    async def scenario():
        ws_a, ws_b = agent_client(alice), agent_client(bob)
        await ws_a.connect()
        await ws_b.connect()
        customer = Client(f"/ws/customer/{sid}/?token={token}")
        await customer.connect()

        # When Alice transfers to Bob with a note
        ack = await ws_a.command(
            {"type": "session.transfer", "session_id": sid, "to_agent": bob.pk, "note": "VAT"}
        )
        assert ack["type"] == "ack", ack
        assert ack["transfer"]["to_agent"]["id"] == str(bob.pk)
        # Then Bob's prompt bar has the transfer, from Alice, with the note and a countdown
        offered = await ws_b.expect("session.offered")
        offer = offered["offer"]
        assert (offer["kind"], offer["note"]) == ("transfer", "VAT")
        assert offer["from_agent"] == {"id": str(alice.pk), "display_name": alice.name}
        assert offer["countdown_seconds"] == 30
        assert offered["session"]["first_message"] == "My invoice is wrong"
        pending = await ws_a.expect("session.transfer_pending")
        assert pending["transfer"]["offer_id"] == offer["id"]
        # And a reconnecting workspace rebuilds both sides from its hello
        again_b, again_a = agent_client(bob), agent_client(alice)
        [seen_b] = (await again_b.connect())["sessions"]
        assert seen_b["offer"]["kind"] == "transfer" and seen_b["offer"]["note"] == "VAT"
        [seen_a] = (await again_a.connect())["sessions"]
        assert seen_a["transfer"]["to_agent"]["id"] == str(bob.pk)
        await again_a.close()
        await again_b.close()

        # When Bob accepts
        ack = await ws_b.command({"type": "session.accept", "session_id": sid})
        assert ack["type"] == "ack" and ack["session"]["agent"]["id"] == str(bob.pk)
        await ws_b.expect("session.assigned")
        moved = await ws_a.expect("session.transferred")
        assert moved["session_id"] == sid
        assert moved["to_agent"] == {"id": str(bob.pk), "display_name": bob.name}
        updated = await customer.expect(
            "session.updated", pred=lambda f: f["session"]["agent"]["id"] == str(bob.pk)
        )
        assert updated["session"]["state"] == "active"
        notice = await customer.expect("message.created")
        assert notice["message"]["sender"] == "system"
        assert notice["message"]["body"] == f"You are now chatting with {bob.name}."
        # And Bob hears the customer from now on, Alice no more
        await customer.command({"type": "message.send", "body": "Hello Bob?"})
        got = await ws_b.expect("message.created", pred=lambda f: f["message"]["body"] != "")
        assert got["message"]["session_id"] == sid
        refused = await ws_a.command({"type": "message.send", "session_id": sid, "body": "Hi"})
        assert refused["type"] == "error" and refused["code"] == "not_found"
        for ws in (ws_a, ws_b, customer):
            await ws.close()

    run(scenario())


def test_declined_and_refused_transfers_say_why(service_settings, make_agent):
    alice, bob, carol = make_agent(), make_agent(), make_agent(status="away")
    sid, _ = chat_of(alice)

    async def scenario():
        ws_a, ws_b = agent_client(alice), agent_client(bob)
        await ws_a.connect()
        await ws_b.connect()
        # To someone away: refused at once
        refused = await ws_a.command(
            {"type": "session.transfer", "session_id": sid, "to_agent": carol.pk}
        )
        assert (refused["type"], refused["code"]) == ("error", "agent_unavailable")
        # To Bob, who declines: Alice hears it, Bob's bar goes
        await ws_a.command({"type": "session.transfer", "session_id": sid, "to_agent": bob.pk})
        offered = await ws_b.expect("session.offered")
        again = await ws_a.command(
            {"type": "session.transfer", "session_id": sid, "to_agent": bob.pk}
        )
        assert (again["type"], again["code"]) == ("error", "transfer_pending")
        await ws_b.command({"type": "session.decline", "session_id": sid})
        failed = await ws_a.expect("session.transfer_failed")
        assert (failed["session_id"], failed["reason"]) == (sid, "declined")
        gone = await ws_b.expect("session.offer_expired")
        assert gone["offer_id"] == offered["offer"]["id"]
        # The chat is still Alice's
        ack = await ws_a.command({"type": "message.send", "session_id": sid, "body": "Still me"})
        assert ack["type"] == "ack"
        for ws in (ws_a, ws_b):
            await ws.close()

    run(scenario())
