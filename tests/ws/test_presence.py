"""Presence: an agent whose every workspace is gone for the grace period is set away."""

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from rest_framework.authtoken.models import Token

from agents_app import presence
from agents_app.models import Agent
from sessions_app.actions.create import session_create
from sessions_app.actions.offers import offer_accept
from sessions_app.models import ChatSession
from tests.ws.helpers import Client, run

pytestmark = pytest.mark.django_db(transaction=True)


def connect_and_leave(agent) -> None:
    key = Token.objects.get_or_create(user=agent.user)[0].key

    async def scenario():
        ws = Client("/ws/agent/", [(b"authorization", f"Token {key}".encode())])
        await ws.connect()
        await ws.command({"type": "heartbeat"})
        await ws.close()

    run(scenario())


def test_agent_gone_past_grace_is_set_away_its_offer_moves_and_its_chat_stays(
    service_settings, make_agent
):
    service_settings.presence_grace_seconds = 5
    service_settings.save()
    gone = make_agent()
    chat, _ = session_create(customer_name="Active", message="Hi")
    offer_accept(session_id=chat.pk, agent=gone)
    offered, _ = session_create(customer_name="Waiting", message="Hi")
    assert ChatSession.objects.get(pk=offered.pk).offers.get().agent_id == gone.pk
    connect_and_leave(gone)
    other = make_agent()  # joins later, so the sweep has somewhere to move the offer

    assert presence.agents_mark_away_if_gone(now=time.time() + 2) == []
    assert presence.agents_mark_away_if_gone(now=time.time() + 6) == [gone.pk]

    assert Agent.objects.get(pk=gone.pk).status == "away"
    assert ChatSession.objects.get(pk=chat.pk).agent_id == gone.pk
    assert ChatSession.objects.get(pk=chat.pk).state == "active"
    moved = ChatSession.objects.get(pk=offered.pk)
    assert moved.offers.get(outcome="").agent_id == other.pk


def test_agent_that_never_opened_a_workspace_is_not_swept(service_settings, make_agent):
    service_settings.presence_grace_seconds = 5
    service_settings.save()
    rest_only = make_agent()
    assert presence.agents_mark_away_if_gone(now=time.time() + 3600) == []
    assert Agent.objects.get(pk=rest_only.pk).status == "online"


def test_agent_back_online_without_a_workspace_is_not_judged_by_an_old_one(
    service_settings, make_agent
):
    from agents_app.actions.status import agent_set_status

    service_settings.presence_grace_seconds = 5
    service_settings.save()
    agent = make_agent(status="offline")
    connect_and_leave(agent)
    time.sleep(0.05)
    agent_set_status(agent_id=agent.pk, status="online")  # over REST, say
    assert presence.agents_mark_away_if_gone(now=time.time() + 60) == []
    assert Agent.objects.get(pk=agent.pk).status == "online"


def test_an_open_workspace_keeps_the_agent_online(service_settings, make_agent):
    service_settings.presence_grace_seconds = 5
    service_settings.save()
    agent = make_agent()
    key = Token.objects.get_or_create(user=agent.user)[0].key

    async def scenario():
        ws = Client("/ws/agent/", [(b"authorization", f"Token {key}".encode())])
        await ws.connect()
        await ws.command({"type": "heartbeat"})
        seen = presence.presence_last_seen(agent.pk)
        assert seen is not None
        # Within the grace period of the last heartbeat: stays online.
        assert presence.agents_mark_away_if_gone(now=seen + 4) == []
        await ws.close()

    run(scenario())
    assert Agent.objects.get(pk=agent.pk).status == "online"


@pytest.mark.live
def test_beat_sets_away_an_agent_whose_workspace_closed(
    celery_worker, celery_beat, service_settings, make_agent
):
    from tests.conftest import wait_until

    service_settings.presence_grace_seconds = 5
    service_settings.save()
    agent = make_agent()
    connect_and_leave(agent)
    # grace (5 s) + the sweep's period (5 s) + slack
    wait_until(lambda: Agent.objects.get(pk=agent.pk).status == "away", timeout=20, interval=0.5)


def test_routine_stamps_are_written_together_and_never_back(
    service_settings, make_agent, monkeypatch
):
    # Every frame counts as a sign of life here (not one per TOUCH_EVERY)
    monkeypatch.setattr(presence, "TOUCH_EVERY", 0.0)
    agents = [make_agent() for _ in range(3)]
    keys = [Token.objects.get_or_create(user=a.user)[0].key for a in agents]
    commands = []
    real_zadd = aioredis.Redis.zadd  # counted, and still sent to Redis

    async def counting_zadd(self, name, mapping, *args, **kwargs):
        commands.append(dict(mapping))
        return await real_zadd(self, name, mapping, *args, **kwargs)

    monkeypatch.setattr(aioredis.Redis, "zadd", counting_zadd)

    async def scenario():
        sockets = [Client("/ws/agent/", [(b"authorization", f"Token {k}".encode())]) for k in keys]
        for ws in sockets:
            await ws.connect()  # written at once: one command each
        connected = {a.pk: presence.presence_last_seen(a.pk) for a in agents}
        assert len(commands) == 3 and all(connected.values())
        for _ in range(5):
            for ws in sockets:
                await ws.command({"type": "heartbeat"})
        # Fifteen routine stamps: held, then written as one command for the three agents
        await asyncio.sleep(presence.FLUSH_EVERY + 0.3)
        assert len(commands) == 4 and set(commands[3]) == {str(a.pk) for a in agents}
        for agent in agents:
            assert presence.presence_last_seen(agent.pk) > connected[agent.pk]
        # A routine stamp held while the workspace closes never moves the closing one back
        await sockets[0].command({"type": "heartbeat"})
        await sockets[0].close()
        closed = presence.presence_last_seen(agents[0].pk)
        await asyncio.sleep(presence.FLUSH_EVERY + 0.3)
        assert presence.presence_last_seen(agents[0].pk) == closed
        for ws in sockets[1:]:
            await ws.close()

    run(scenario())
