"""The live wallboard: one snapshot a second at most, for every supervisor at once.

- After a commit, the emitter calls `changed(events)`: while any supervisor watches (a Redis
  key the tickers keep alive), a change of the floor sets the `dirty` flag (one SET), and the
  messages and ends of chats a supervisor has opened go to that chat's `watch.<id>` group.
  With no wallboard open, neither costs a round trip: the process asks Redis at most once a
  second whether anyone watches.
- Each daphne process with a supervisor connected runs a ticker. Every second, the ticker that
  takes the tick lock (across processes) builds the snapshot if the flag was set, or every
  REFRESH_SECONDS if only the clock moved the half-hour figures, and publishes it to the
  `supervisors` group as `supervisor.updated`. One build a second serves one supervisor or
  fifty: the database sees the same load.
"""

import asyncio
import json
import logging
import threading
import time

from django.conf import settings

from core.asyncdb import database_sync_to_async
from sessions_app import metrics, push
from sessions_app.models import EventKind, SessionState

from .snapshot import build_snapshot

log = logging.getLogger(__name__)

GROUP = "supervisors"
TICK_SECONDS = 1.0  # at most one `supervisor.updated` this often
REFRESH_SECONDS = 15.0  # with no change, the half-hour figures may still slide: look this often
WATCHING_TTL_MS = 5000  # the tickers keep "someone watches" alive this long
WATCH_TTL_SECONDS = 120  # an opened transcript is followed this long after the last heartbeat
CACHE_SECONDS = 1.0  # how long a process trusts what it last read of who watches what
# Events that change nothing the wallboard shows.
QUIET = {
    EventKind.MESSAGE_CREATED,
    EventKind.MESSAGE_READ,
    EventKind.QUEUE_MOVED,
    EventKind.RATING_SUBMITTED,
    EventKind.SESSION_IDLE_WARNING,
}


def _key(name: str) -> str:
    return f"{settings.REDIS_PREFIX}:supervision:{name}"


def watch_group(session_id) -> str:
    return f"watch.{session_id}"


# --- the publishers' side (any process, after commit) ------------------------------------------


class _Watchers:
    """What this process last read of who watches: anyone at all, and which chats."""

    def __init__(self) -> None:
        self.read_at = -CACHE_SECONDS
        self.anyone = False
        self.chats: set[str] = set()
        self.lock = threading.Lock()

    def current(self, redis) -> tuple[bool, set[str]]:
        now = time.monotonic()
        with self.lock:
            if now - self.read_at < CACHE_SECONDS:
                return self.anyone, self.chats
            pipe = redis.pipeline(transaction=False)
            pipe.exists(_key("watching"))
            pipe.zrangebyscore(_key("watched"), time.time(), "+inf")
            anyone, chats = pipe.execute()
            self.anyone = bool(anyone)
            self.chats = {c.decode() if isinstance(c, bytes) else c for c in chats}
            self.read_at = now
            return self.anyone, self.chats


_watchers = _Watchers()
_redis = None


def _sync_redis():
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
    return _redis


def changed(events) -> None:
    """After commit: flag the floor as changed, and copy watched chats' news to their watchers."""
    client = _sync_redis()
    anyone, chats = _watchers.current(client)
    if not anyone:
        return
    if any(e.kind not in QUIET for e in events):
        client.set(_key("dirty"), 1)
    frames = [f for e in events for f in _watch_frames(e, chats)]
    if frames:
        with push.batch():
            for group, kind, payload in frames:
                push.publish(group, kind, **payload)


def _watch_frames(event, chats: set[str]) -> list[tuple[str, str, dict]]:
    from sessions_app import selectors

    session = event.session
    if session is None or str(session.pk) not in chats:
        return []
    group = watch_group(session.pk)
    if event.kind == EventKind.MESSAGE_CREATED:
        return [(group, "message.created", {"message": selectors.message_dict(event.message)})]
    if event.kind == EventKind.SESSION_ENDED:
        ended = {"session_id": str(session.pk), "reason": session.end_reason}
        return [(group, "session.ended", ended)]
    if event.kind in QUIET:
        return []
    if session.state == SessionState.ENDED:
        return []
    return [(group, "session.updated", {"session": selectors.session_dict(session)})]


# --- the tickers' side (daphne, while supervisors are connected) --------------------------------


def _shape(snapshot: dict) -> str:
    """The snapshot without what the clock alone moves (the browser counts those up)."""
    still = dict(
        snapshot,
        generated_at=None,
        waiting=[dict(w, waiting_seconds=None) for w in snapshot["waiting"]],
    )
    still["totals"] = dict(snapshot["totals"], longest_wait_seconds=None)
    still["groups"] = [dict(g, longest_wait_seconds=None) for g in snapshot["groups"]]
    return json.dumps(still, sort_keys=True, default=str)


def tick(*, force: bool = False) -> bool:
    """One tick, under the tick lock: build and publish the snapshot if the floor changed (or
    REFRESH_SECONDS passed and the half-hour figures moved). True if it published."""
    client = _sync_redis()
    pipe = client.pipeline(transaction=False)
    pipe.set(_key("watching"), 1, px=WATCHING_TTL_MS)
    # A little under the period: a lock still held when the next tick looks skips a second.
    pipe.set(_key("tick"), 1, nx=True, px=int(TICK_SECONDS * 950))
    _, mine = pipe.execute()
    if not mine and not force:
        return False
    dirty = client.getdel(_key("dirty"))
    refresh = client.set(_key("refresh"), 1, nx=True, px=int(REFRESH_SECONDS * 1000))
    if not (dirty or refresh or force):
        return False
    snapshot = build_snapshot()
    metrics.count_supervisor_snapshot()
    shape = _shape(snapshot)
    if not dirty and not force and client.get(_key("shape")) == shape.encode():
        return False
    client.set(_key("shape"), shape, ex=3600)
    # At most one a second by the moment they go out, whichever process builds: a quick build
    # after a slow one would otherwise follow it sooner.
    while not client.set(_key("sent"), 1, nx=True, px=int(TICK_SECONDS * 1000)):
        time.sleep(max(client.pttl(_key("sent")), 1) / 1000)
    push.publish(GROUP, "supervisor.updated", snapshot=snapshot)
    return True


class Ticker:
    """This process's ticker: runs while at least one supervisor socket is open here."""

    def __init__(self) -> None:
        self.sockets = 0
        self.task: asyncio.Task | None = None

    def join(self) -> None:
        self.sockets += 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def leave(self) -> None:
        self.sockets = max(self.sockets - 1, 0)

    async def _run(self) -> None:
        run = database_sync_to_async(tick)
        while self.sockets > 0:
            started = time.monotonic()
            try:
                await run()
            except Exception:  # noqa: BLE001 -- the next tick tries again
                log.exception("supervisor tick failed")
            await asyncio.sleep(max(TICK_SECONDS - (time.monotonic() - started), 0.05))


ticker = Ticker()


async def watch(session_id: str) -> None:
    """Follow this chat's news (until WATCH_TTL_SECONDS after the last call)."""
    redis = push.async_redis()
    await redis.zadd(_key("watched"), {session_id: time.time() + WATCH_TTL_SECONDS})
    # Someone watches from now on: the watching flag too, before the first tick sets it.
    await redis.set(_key("watching"), 1, px=WATCHING_TTL_MS)
    await redis.zremrangebyscore(_key("watched"), "-inf", time.time())
