"""Agent presence: open workspaces refresh a Redis sorted set; a sweep sets away the gone.

Each agent socket stamps `agent id -> unix time` in one sorted set on connect, on every frame
the browser sends (the workspace sends a heartbeat every few seconds) and on disconnect. The
periodic sweep (a Celery beat entry) sets `away` every online agent whose newest stamp is older
than `ServiceSettings.presence_grace_seconds`, through `agent_set_status`, so its standing offers
move on while its active chats stay with it.

Choice for agents who never open a workspace (REST-only clients): only agents that have had a
workspace connected since they last went online are judged. An agent whose newest stamp is older
than its last status change went online without a workspace, so the sweep leaves it alone and
forgets its stale stamp; REST-only agents are therefore never set away by presence.
"""

import asyncio
import logging
import time
import weakref

from django.conf import settings

from sessions_app.push import async_redis

from .actions.status import agent_set_status
from .models import Agent, AgentStatus
from .selectors import service_settings

log = logging.getLogger(__name__)

TOUCH_EVERY = 2.0  # seconds; a socket refreshes its stamp at most this often on busy traffic
FLUSH_EVERY = 0.5  # seconds; a process writes the stamps it holds at most this much later

# Stamps of this process's sockets not yet in Redis (agent id -> unix time), per event loop:
# written together, one ZADD for all, by a task on that loop.
_held: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()
_writers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task]" = (
    weakref.WeakKeyDictionary()
)


def presence_key() -> str:
    return f"{settings.REDIS_PREFIX}:presence:agents"


async def presence_touch(agent_id: int, *, now: bool = True) -> None:
    """Record a sign of life from one of the agent's workspaces (async: consumers).

    `now=False` (the workspace's routine traffic): held and written with every other stamp of
    this process within FLUSH_EVERY, one command for all instead of one per socket every
    TOUCH_EVERY. Connects, disconnects and status changes write at once: the sweep judges an
    agent by them (module docstring), and a process that dies may lose only routine stamps,
    half a second old at most (the workspace beats every third of the grace period).
    """
    stamp = time.time()
    if now:
        await async_redis().zadd(presence_key(), {str(agent_id): stamp})
        return
    loop = asyncio.get_running_loop()
    _held.setdefault(loop, {})[str(agent_id)] = stamp
    writer = _writers.get(loop)
    if writer is None or writer.done():
        _writers[loop] = loop.create_task(_write_held(loop))


async def _write_held(loop: asyncio.AbstractEventLoop) -> None:
    """Write the held stamps once per FLUSH_EVERY while there are any; then end."""
    while True:
        await asyncio.sleep(FLUSH_EVERY)
        held = _held.pop(loop, None)
        if not held:
            return
        try:
            # GT: never move a stamp back (an immediate write may have been newer).
            await async_redis().zadd(presence_key(), held, gt=True)
        except Exception:  # noqa: BLE001 -- best effort, as every stamp: the next one follows
            log.warning("presence stamps of %d agent(s) not written", len(held), exc_info=True)


def _client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)


def presence_last_seen(agent_id: int) -> float | None:
    """Unix time of the agent's newest sign of life from a workspace, or None."""
    client = _client()
    try:
        return client.zscore(presence_key(), str(agent_id))
    finally:
        client.close()


def agents_mark_away_if_gone(*, now: float | None = None) -> list[int]:
    """Set away the online agents whose every workspace has been gone for the grace period."""
    now = time.time() if now is None else now
    grace = service_settings().presence_grace_seconds
    client = _client()
    marked: list[int] = []
    try:
        key = presence_key()
        for member, seen in client.zrangebyscore(key, "-inf", now - grace, withscores=True):
            agent_id = int(member)
            agent = Agent.objects.filter(pk=agent_id).only("status", "status_changed_at").first()
            judged = (
                agent is not None
                and agent.status == AgentStatus.ONLINE
                and (agent.status_changed_at is None or agent.status_changed_at.timestamp() <= seen)
            )
            # A workspace may have stamped since we read: only act on the stamp we judged.
            if client.zscore(key, member) != seen:
                continue
            client.zrem(key, member)
            if judged:
                agent_set_status(agent_id=agent_id, status=AgentStatus.AWAY)
                marked.append(agent_id)
    finally:
        client.close()
    return marked
