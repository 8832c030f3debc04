"""The agent workspace socket: who may connect, the hello snapshot, commands, events, bad input."""

import asyncio

import pytest
from rest_framework.authtoken.models import Token

from sessions_app import push
from sessions_app.actions.create import session_create
from sessions_app.models import ChatSession, Offer
from tests.ws.helpers import Client, in_thread, run

pytestmark = pytest.mark.django_db(transaction=True)


def token_headers(agent) -> list[tuple[bytes, bytes]]:
    key = Token.objects.get_or_create(user=agent.user)[0].key
    return [(b"authorization", f"Token {key}".encode())]


def agent_client(agent) -> Client:
    return Client("/ws/agent/", token_headers(agent))


def test_anonymous_socket_is_refused_with_4401(service_settings):
    async def scenario():
        assert await Client("/ws/agent/").refused_code() == 4401

    run(scenario())


def test_wrong_token_is_refused_even_with_a_valid_session_cookie(service_settings, make_agent):
    agent = make_agent()
    from django.test import Client as HttpClient

    http = HttpClient()
    http.force_login(agent.user)
    cookie = f"sessionid={http.cookies['sessionid'].value}".encode()

    async def scenario():
        headers = [(b"cookie", cookie), (b"authorization", b"Token not-a-real-key")]
        assert await Client("/ws/agent/", headers).refused_code() == 4401

    run(scenario())


def test_staff_user_without_agent_profile_is_refused(service_settings, django_user_model):
    user = django_user_model.objects.create_user("boss", password="pw", is_staff=True)
    key = Token.objects.create(user=user).key

    async def scenario():
        headers = [(b"authorization", f"Token {key}".encode())]
        assert await Client("/ws/agent/", headers).refused_code() == 4401

    run(scenario())


def test_foreign_origin_handshake_is_denied(service_settings, make_agent):
    agent = make_agent()
    from channels.testing import WebsocketCommunicator

    from contactcenter.asgi import application

    async def scenario():
        comm = WebsocketCommunicator(
            application,
            "/ws/agent/",
            headers=[(b"origin", b"http://evil.example"), *token_headers(agent)],
        )
        connected, _ = await comm.connect(timeout=10)
        assert not connected

    run(scenario())


def test_session_cookie_login_gets_hello_with_agent_and_current_seq(service_settings, make_agent):
    agent = make_agent()
    from django.test import Client as HttpClient

    http = HttpClient()
    http.force_login(agent.user)
    cookie = f"sessionid={http.cookies['sessionid'].value}".encode()

    async def scenario():
        seq_now = await push.current_seq_async(push.agent_group(agent.pk))
        ws = Client("/ws/agent/", [(b"cookie", cookie)])
        hello = await ws.connect()
        assert hello["agent"]["id"] == str(agent.pk)
        assert hello["agent"]["status"] == "online"
        assert hello["agent"]["capacity"] == 5
        assert hello["sessions"] == []
        assert hello["seq"] == seq_now
        assert "ts" in hello
        await ws.close()

    run(scenario())


def test_hello_lists_a_standing_offer_with_its_first_message(service_settings, make_agent):
    agent = make_agent()
    session, _ = session_create(customer_name="Dana", message="My order is late")

    async def scenario():
        ws = agent_client(agent)
        hello = await ws.connect()
        [offered] = hello["sessions"]
        assert offered["id"] == str(session.pk)
        assert offered["state"] == "offered"
        assert offered["first_message"] == "My order is late"
        assert offered["offer"]["agent_id"] == str(agent.pk)
        assert hello["agent"]["load"] == 1
        await ws.close()

    run(scenario())


def test_new_session_reaches_the_agent_as_offered_with_the_next_seq(service_settings, make_agent):
    agent = make_agent()

    async def scenario():
        ws = agent_client(agent)
        hello = await ws.connect()
        session, _ = session_create(customer_name="Eve", message="Hi there")
        offered = await ws.expect("session.offered")
        assert offered["session"]["id"] == str(session.pk)
        assert offered["session"]["first_message"] == "Hi there"
        assert offered["offer"]["countdown_seconds"] == 30
        assert offered["offer"]["expires_at"]
        assert offered["seq"] == hello["seq"] + 1
        await ws.close()

    run(scenario())


def test_accept_chat_and_end_over_the_socket(service_settings, make_agent):
    agent = make_agent()

    async def scenario():
        ws = agent_client(agent)
        await ws.connect()
        session, token = session_create(customer_name="Finn", message="Hello")
        sid = str(session.pk)
        customer = Client(f"/ws/customer/{sid}/?token={token}")
        await customer.connect()
        await ws.expect("session.offered")

        ack = await ws.command({"type": "session.accept", "session_id": sid})
        assert ack["type"] == "ack" and ack["session"]["state"] == "active"
        assigned = await ws.expect("session.assigned")
        assert assigned["session"]["agent"]["id"] == str(agent.pk)
        joined = await customer.expect("session.updated", pred=lambda f: f["session"]["agent"])
        assert joined["session"]["agent"]["display_name"] == agent.name

        ack = await customer.command({"type": "message.send", "body": "Where is it?"})
        assert ack["type"] == "ack" and ack["message"]["sender"] == "customer"
        got = await ws.expect("message.created")
        assert got["message"]["body"] == "Where is it?"

        ack = await ws.command({"type": "message.send", "session_id": sid, "body": "On its way"})
        assert ack["type"] == "ack"
        got = await customer.expect("message.created")
        assert (got["message"]["sender"], got["message"]["body"]) == ("agent", "On its way")

        history = await ws.command({"type": "messages.list", "session_id": sid})
        assert [m["body"] for m in history["messages"]] == ["Hello", "Where is it?", "On its way"]

        ack = await ws.command({"type": "session.end", "session_id": sid})
        assert ack["type"] == "ack" and ack["reason"] == "agent_ended"
        ended = await ws.expect("session.ended")
        assert ended["reason"] == "agent_ended"
        ended = await customer.expect("session.ended")
        assert ended["reason"] == "agent_ended"
        await ws.close()
        await customer.close()

    run(scenario())
    assert ChatSession.objects.get().end_reason == "agent_ended"


def test_going_away_withdraws_the_offer_and_reports_the_new_status(service_settings, make_agent):
    agent = make_agent()

    async def scenario():
        ws = agent_client(agent)
        await ws.connect()
        session, _ = session_create(customer_name="Gil", message="Hi")
        await ws.expect("session.offered")
        ack = await ws.command({"type": "agent.status", "status": "away"})
        assert ack["type"] == "ack" and ack["status"] == "away"
        gone = await ws.expect("session.offer_expired")
        assert gone["session_id"] == str(session.pk)
        updated = await ws.expect("agent.updated")
        assert updated["agent"]["status"] == "away"
        assert updated["agent"]["load"] == 0
        await ws.close()

    run(scenario())
    assert ChatSession.objects.get().state == "queued"


def test_going_away_with_a_reason_shows_it_until_back_online(service_settings, make_agent):
    agent = make_agent()

    async def scenario():
        ws = agent_client(agent)
        await ws.connect()
        command = {"type": "agent.status", "status": "away", "status_reason": "lunch"}
        ack = await ws.command(command)
        assert (ack["status"], ack["status_reason"]) == ("away", "lunch")
        updated = await ws.expect("agent.updated")
        assert updated["agent"]["status_reason"] == "lunch"
        bad = await ws.command({"type": "agent.status", "status": "away", "status_reason": 7})
        assert (bad["type"], bad["code"]) == ("error", "invalid")
        ack = await ws.command({"type": "agent.status", "status": "online"})
        assert (ack["status"], ack["status_reason"]) == ("online", "")
        await ws.close()

    run(scenario())


def test_malformed_and_invalid_commands_get_errors_and_the_socket_stays_open(
    service_settings, make_agent
):
    agent = make_agent()
    other = make_agent()

    async def scenario():
        ws = agent_client(agent)
        await ws.connect()
        await ws.comm.send_to(text_data="{not json")
        error = await ws.expect("error")
        assert error["code"] == "malformed" and "ts" in error
        await ws.comm.send_to(text_data="[1, 2]")
        assert (await ws.expect("error"))["code"] == "malformed"

        reply = await ws.command({"type": "dance"})
        assert (reply["type"], reply["code"]) == ("error", "unknown_type")
        reply = await ws.command({"type": "session.accept"})
        assert (reply["type"], reply["code"]) == ("error", "invalid")
        reply = await ws.command({"type": "session.accept", "session_id": "nope"})
        assert (reply["type"], reply["code"]) == ("error", "not_found")
        reply = await ws.command({"type": "agent.status", "status": "sleeping"})
        assert (reply["type"], reply["code"]) == ("error", "invalid")

        session, _ = session_create(customer_name="Hal", message="Hi")
        offered = await ws.expect("session.offered")
        sid = offered["session"]["id"]
        reply = await ws.command({"type": "message.send", "session_id": sid, "body": "early"})
        assert (reply["type"], reply["code"]) == ("error", "not_active")
        await ws.command({"type": "session.accept", "session_id": sid})
        reply = await ws.command({"type": "message.send", "session_id": sid, "body": "   "})
        assert (reply["type"], reply["code"]) == ("error", "invalid")

        # Someone else's session looks like no session at all.
        intruder = agent_client(other)
        await intruder.connect()
        reply = await intruder.command({"type": "session.end", "session_id": sid})
        assert (reply["type"], reply["code"]) == ("error", "not_found")
        reply = await intruder.command({"type": "messages.list", "session_id": sid})
        assert (reply["type"], reply["code"]) == ("error", "not_found")

        # Still open after all that: a good command works.
        reply = await ws.command({"type": "heartbeat"})
        assert reply["type"] == "ack"
        await ws.close()
        await intruder.close()

    run(scenario())


def test_sync_answers_with_a_fresh_hello(service_settings, make_agent):
    agent = make_agent()

    async def scenario():
        ws = agent_client(agent)
        first = await ws.connect()
        session_create(customer_name="Ivy", message="Hi")
        await ws.expect("session.offered")
        reply = await ws.command({"type": "sync", "ref": "s1"})
        assert reply["type"] == "ack"
        again = await ws.expect("hello")
        assert again["seq"] == first["seq"] + 1
        assert len(again["sessions"]) == 1
        await ws.close()

    run(scenario())


def test_events_crossing_on_the_way_are_delivered_in_seq_order(service_settings, make_agent):
    agent = make_agent()
    group = push.agent_group(agent.pk)

    async def scenario():
        from channels.layers import get_channel_layer

        ws = agent_client(agent)
        hello = await ws.connect()
        base = hello["seq"]
        layer = get_channel_layer()
        # The later event overtakes the earlier one, as from two processes.
        for seq in (base + 2, base + 1):
            frame = {"type": "probe", "n": seq, "seq": seq}
            await layer.group_send(group, {"type": "push.event", "frame": frame})
        first = await ws.expect("probe")
        second = await ws.expect("probe")
        assert [first["seq"], second["seq"]] == [base + 1, base + 2]
        await ws.close()

    run(scenario())


def test_a_lost_event_shows_as_a_seq_gap_after_a_second(service_settings, make_agent):
    agent = make_agent()
    group = push.agent_group(agent.pk)

    async def scenario():
        ws = agent_client(agent)
        hello = await ws.connect()
        # An event numbered but never delivered (as when a full channel drops it).
        await push.async_redis().incr(push.seq_key(group))
        loop = asyncio.get_running_loop()
        started = loop.time()
        session_create(customer_name="Jo", message="Hi")
        offered = await ws.expect("session.offered", timeout=5)
        assert offered["seq"] == hello["seq"] + 2
        assert loop.time() - started >= 0.9  # held for the missing one first
        await ws.close()

    run(scenario())


def test_pushes_and_replies_do_not_wait_for_a_busy_thread_sensitive_call(
    service_settings, make_agent
):
    """A slow sync call on the process's thread-sensitive thread (as channels' cookie login
    makes) holds up no socket: neither an event pushed to it nor the answer to its command."""
    import time

    from asgiref.sync import sync_to_async

    agent = make_agent()
    group = push.agent_group(agent.pk)

    async def scenario():
        from channels.layers import get_channel_layer

        ws = agent_client(agent)
        hello = await ws.connect()
        busy = asyncio.create_task(sync_to_async(time.sleep, thread_sensitive=True)(3))
        await asyncio.sleep(0.1)  # the thread is taken
        loop = asyncio.get_running_loop()
        started = loop.time()
        frame = {"type": "probe", "seq": hello["seq"] + 1}
        await get_channel_layer().group_send(group, {"type": "push.event", "frame": frame})
        await ws.expect("probe", timeout=5)
        pushed = loop.time() - started
        assert (await ws.command({"type": "heartbeat"}))["type"] == "ack"
        answered = loop.time() - started
        await busy
        await ws.close()
        assert pushed < 1.0, f"the push waited {pushed:.2f} s for the busy thread"
        assert answered < 1.0, f"the reply waited {answered:.2f} s for the busy thread"

    run(scenario())


def test_decline_over_the_socket_takes_the_bar_away_and_offers_the_next_agent(
    service_settings, make_agent
):
    first, second = make_agent(), make_agent()

    async def scenario():
        ws_first, ws_second = agent_client(first), agent_client(second)
        await ws_first.connect()
        await ws_second.connect()
        session, _ = await in_thread(session_create, customer_name="Gil", message="Hi")
        sid = str(session.pk)
        offer = await in_thread(lambda: Offer.objects.standing().get(session_id=sid))
        holder, other = (
            (ws_first, ws_second) if offer.agent_id == first.pk else (ws_second, ws_first)
        )
        await holder.expect("session.offered")
        # When the offered agent declines
        ack = await holder.command({"type": "session.decline", "session_id": sid})
        assert ack["type"] == "ack" and ack["session_id"] == sid
        # Then its bar goes (the offer ended, declined) and the other agent is offered it
        gone = await holder.expect("session.offer_expired")
        assert (gone["session_id"], gone["reason"]) == (sid, "declined")
        offered = await other.expect("session.offered")
        assert offered["session"]["id"] == sid
        # A second decline is refused with a clear error, the socket stays open
        again = await holder.command({"type": "session.decline", "session_id": sid})
        assert (again["type"], again["code"]) == ("error", "offer_declined")
        await ws_first.close()
        await ws_second.close()

    run(scenario())
