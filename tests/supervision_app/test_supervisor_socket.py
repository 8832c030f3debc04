"""/ws/supervisor/ on the real app and the real Redis layer: the hello snapshot, updates at most
once a second however busy the floor, and a watched chat's transcript live."""

import asyncio
import math
import threading
import time
from datetime import datetime

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.authtoken.models import Token

from agents_app.actions.status import agent_set_status
from sessions_app.actions.create import session_create
from sessions_app.actions.messages import message_send
from sessions_app.actions.offers import offer_accept
from sessions_app.models import Offer, Sender
from supervision_app import live
from tests.ws.helpers import Client, in_thread, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def supervisor_headers(django_user_model):
    user = django_user_model.objects.create_user("sup-socket", password="pw")
    user.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    key = Token.objects.get_or_create(user=user)[0].key
    return [(b"authorization", f"Token {key}".encode())]


async def updates_until(client: Client, pred, timeout: float = 6) -> dict:
    return await client.expect("supervisor.updated", timeout=timeout, pred=pred)


def test_hello_carries_the_snapshot_and_a_change_follows_within_seconds(
    service_settings, make_agent, supervisor_headers
):
    agent = make_agent(status="away")

    async def scenario():
        client = Client("/ws/supervisor/", supervisor_headers)
        hello = await client.connect()
        assert set(hello["snapshot"]) >= {"totals", "groups", "agents", "waiting"}
        assert isinstance(hello["seq"], int)
        await asyncio.sleep(live.CACHE_SECONDS + 0.2)  # the publishers notice the watcher

        session, _ = await in_thread(session_create, customer_name="Queued one", message="hi")
        started = time.monotonic()
        frame = await updates_until(
            client,
            lambda f: any(w["session_id"] == str(session.pk) for w in f["snapshot"]["waiting"]),
        )
        assert time.monotonic() - started < 3
        assert frame["snapshot"]["totals"]["queued"] >= 1

        await in_thread(agent_set_status, agent_id=agent.pk, status="online")
        await in_thread(_accept_offer_of, session.pk)
        frame = await updates_until(client, lambda f: f["snapshot"]["totals"]["active"] >= 1)
        assert all(w["session_id"] != str(session.pk) for w in frame["snapshot"]["waiting"])
        await client.comm.disconnect()

    run(scenario())


def _accept_offer_of(session_id):
    offer = Offer.objects.standing().get(session_id=session_id)
    return offer_accept(session_id=session_id, agent=offer.agent)


def test_a_hundred_changes_in_a_second_make_at_most_two_frames(
    service_settings, make_agent, supervisor_headers
):
    agents = [make_agent(status="away") for _ in range(4)]
    agent = agents[0]

    def burst():
        # Four agents changing at once, 25 changes each: 100 changes in about a second.
        def changes(one):
            try:
                for n in range(25):
                    agent_set_status(agent_id=one.pk, status="online" if n % 2 == 0 else "away")
            finally:
                connection.close()

        threads = [threading.Thread(target=changes, args=(one,)) for one in agents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    async def scenario():
        client = Client("/ws/supervisor/", supervisor_headers)
        await client.connect()
        await asyncio.sleep(2.5)  # past the first ticks and the publishers' cache
        seen = len(client.frames)
        started = time.time()
        await in_thread(burst)
        took = time.time() - started
        # Everything sent meanwhile (and just after) waits in the socket: read it all (a
        # receive that times out would stop the app: ask whether anything is left first).
        while not await client.comm.receive_nothing(timeout=1.5):
            await client.next()
        sent = [
            datetime.fromisoformat(f["ts"].replace("Z", "+00:00")).timestamp()
            for f in client.frames[seen:]
            if f["type"] == "supervisor.updated"
        ]
        during = [t for t in sent if started <= t <= started + max(took, 1.0)]
        print(f"\n100 status changes in {took:.2f} s -> {len(during)} supervisor.updated meanwhile")
        # One a second at most: two within a one-second burst (one on each side of a tick).
        assert len(during) <= math.ceil(max(took, 1.0)) + 1
        gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
        assert all(gap >= 0.9 for gap in gaps), gaps
        # ... and the wallboard settles on the final state (online: each agent's 25th change).
        final = await updates_until(
            client,
            lambda f: any(
                a["id"] == str(agent.pk) and a["status"] == "online"
                for a in f["snapshot"]["agents"]
            ),
        )
        assert final
        await client.comm.disconnect()

    run(scenario())


def test_watching_a_chat_shows_its_transcript_and_new_messages(
    service_settings, make_agent, supervisor_headers
):
    service_settings.service_mode = "auto"
    service_settings.save()
    agent = make_agent()

    async def scenario():
        session, _ = await in_thread(session_create, customer_name="Watched", message="first")
        client = Client("/ws/supervisor/", supervisor_headers)
        await client.connect()
        await client.comm.send_json_to(
            {"type": "session.watch", "ref": "w1", "session_id": str(session.pk)}
        )
        ack = await client.expect("ack", pred=lambda f: f.get("ref") == "w1")
        assert ack["session"]["id"] == str(session.pk)
        assert [m["body"] for m in ack["messages"]] == ["first"]
        await asyncio.sleep(live.CACHE_SECONDS + 0.2)
        await in_thread(
            message_send, session_id=session.pk, sender=Sender.AGENT, body="hello", agent=agent
        )
        frame = await client.expect("message.created")
        assert frame["message"]["body"] == "hello"
        assert "seq" not in frame and "watch_seq" in frame
        await client.comm.send_json_to(
            {"type": "session.unwatch", "ref": "u1", "session_id": str(session.pk)}
        )
        await client.expect("ack", pred=lambda f: f.get("ref") == "u1")
        await client.comm.disconnect()

    run(scenario())


def _snapshots_built() -> float:
    from sessions_app import metrics

    metrics.flush()
    return metrics._shared().get("supervisor_snapshots", 0.0)


@pytest.mark.parametrize("watchers", [1, 10])
def test_one_or_ten_supervisors_cost_the_same_snapshots(
    service_settings, make_agent, supervisor_headers, watchers
):
    agent = make_agent(status="away")

    async def scenario():
        clients = [Client("/ws/supervisor/", supervisor_headers) for _ in range(watchers)]
        for client in clients:
            await client.connect()
        await asyncio.sleep(live.CACHE_SECONDS + 0.2)
        before, started = await in_thread(_snapshots_built), time.monotonic()
        for n in range(6):  # a change every half second for three seconds
            status = "online" if n % 2 == 0 else "away"
            await in_thread(agent_set_status, agent_id=agent.pk, status=status)
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.2)
        built = await in_thread(_snapshots_built) - before
        took = time.monotonic() - started
        print(f"\n{watchers} supervisor(s): {built:.0f} snapshots built in {took:.1f} s")
        assert 1 <= built <= math.ceil(took) + 1  # one a second at most, for all of them
        # ... and every socket saw the same frames (those after the last one's hello).
        for client in clients:
            while not await client.comm.receive_nothing(timeout=0.2):
                await client.next()
        after = max(c.frames[0]["seq"] for c in clients)
        seen = {
            tuple(
                f["seq"] for f in c.frames if f["type"] == "supervisor.updated" and f["seq"] > after
            )
            for c in clients
        }
        assert len(seen) == 1 and len(next(iter(seen))) >= 1
        for client in clients:
            await client.comm.disconnect()

    run(scenario())
