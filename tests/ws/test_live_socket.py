"""Sockets on the real daphne: an idle socket survives, and worker-sent events arrive numbered."""

import asyncio
import json

import pytest
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from sessions_app.actions.create import session_create
from tests.ws.helpers import in_thread, run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


async def open_agent(base_url: str, agent):
    key = Token.objects.get_or_create(user=agent.user)[0].key
    ws = await connect(
        base_url.replace("http", "ws", 1) + "/ws/agent/",
        origin=base_url,
        additional_headers={"Authorization": f"Token {key}"},
        ping_interval=None,  # no client pings: the socket must stay open on its own
        proxy=None,
    )
    hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert hello["type"] == "hello"
    return ws, hello


async def next_of(ws, kind: str, timeout: float) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


def test_idle_socket_stays_open_for_20_seconds_then_still_gets_events(
    live_server_url, service_settings, make_agent
):
    agent = make_agent()

    async def scenario():
        ws, hello = await open_agent(live_server_url, agent)
        await asyncio.sleep(20)  # longer than redis-py's 5 s default read timeout, twice over
        await in_thread(session_create, customer_name="Late", message="Hi")
        offered = await next_of(ws, "session.offered", 5)
        assert offered["seq"] == hello["seq"] + 1
        await ws.close()

    run(scenario())


def test_offer_expiry_from_the_worker_reaches_both_agents_in_seq_order(
    live_server_url, celery_worker, service_settings, make_agent
):
    service_settings.accept_timeout_seconds = 1
    service_settings.save()
    first, second = make_agent(), make_agent()

    async def scenario():
        ws1, hello1 = await open_agent(live_server_url, first)
        ws2, hello2 = await open_agent(live_server_url, second)
        session, _ = await in_thread(session_create, customer_name="Moves", message="Hi")
        offered = await next_of(ws1, "session.offered", 5)
        expired = await next_of(ws1, "session.offer_expired", 6)
        assert expired["offer_id"] == offered["offer"]["id"]
        assert [offered["seq"], expired["seq"]] == [hello1["seq"] + 1, hello1["seq"] + 2]
        moved = await next_of(ws2, "session.offered", 5)  # sent by the worker process
        assert moved["session"]["id"] == str(session.pk)
        assert moved["seq"] == hello2["seq"] + 1
        await ws1.close()
        await ws2.close()

    run(scenario())


def test_an_agents_first_message_on_a_server_that_never_saw_its_name_is_acked(
    live_server_url, service_settings, make_agent
):
    """The ack names the message's author: a query, when the server has no fresh name for
    it, which must run off the event loop (production refuses a query on the loop)."""
    from sessions_app.actions.offers import offer_accept

    agent = make_agent()
    session, _ = session_create(customer_name="Nina", message="Hi")
    offer_accept(session_id=session.pk, agent=agent)  # here, not on the server

    async def scenario():
        ws, _ = await open_agent(live_server_url, agent)
        frame = {"type": "message.send", "session_id": str(session.pk), "body": "Hi", "ref": "m"}
        await ws.send(json.dumps(frame))
        ack = await next_of(ws, "ack", 10)
        assert ack["message"]["author"] == {"id": str(agent.pk), "display_name": agent.name}
        await ws.close()

    run(scenario())
