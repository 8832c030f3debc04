"""The one place that talks to the channel layer: numbered live events for agents and customers.

The emitter (sessions_app/events.py) calls `to_agent` / `to_customer` after commit, so nothing
leaves before the commit. Events are numbered in the order they were published, each with the
recipient's next `seq` (an atomic Redis counter shared by every process).

On the pub/sub layer (the default) the committing thread publishes itself, with a plain
Redis client and no event loop, in one round trip: a Lua script numbers each frame and
publishes it. Under load, handing events to a publisher thread cost more than the sending:
the thread waited for the GIL behind the request threads (p99 100-150 ms at 20 new chats/s),
and each round trip from a request thread is one more wait for the GIL. The frame is
serialized once in Python with a placeholder `seq` (a fixed-width msgpack integer); the
script writes the number over it, so numbering and publishing are one atomic step and a
recipient's events arrive in seq order even when several processes publish to it.
`batch()` groups the events of one announcement (a routing pass offers many sessions at once)
into that round trip. The core layer's `group_send` is a Lua script with per-channel
capacities, so there each process keeps one publisher thread with a long-lived event loop
(`async_to_sync(group_send)` per call costs a loop and a connection each time).
"""

import asyncio
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

EVENT_HANDLER = "push.event"  # consumers implement push_event()
BATCH_MAX = 200  # events numbered and sent together when the queue has a backlog
SEND_CONCURRENCY = 32  # group_sends in flight at once, well under REDIS_MAX_CONNECTIONS


def _message(frames: list[dict]) -> dict:
    """The channel-layer message: {"frame": f} for one event, {"frames": [...]} for several."""
    if len(frames) == 1:
        return {"type": EVENT_HANDLER, "frame": frames[0]}
    return {"type": EVENT_HANDLER, "frames": frames}


def _count_dropped(n: int) -> None:
    try:
        from . import metrics

        metrics.count_push_dropped(n)
    except Exception:  # noqa: BLE001 -- metrics must never break the publisher
        log.debug("could not count dropped pushes", exc_info=True)


def _grouped(batch: list[tuple[str, dict]]) -> dict[str, list[dict]]:
    """group -> its frames, in the order they were published."""
    by_group: dict[str, list[dict]] = {}
    for group, frame in batch:
        by_group.setdefault(group, []).append(frame)
    return by_group


def _numbered(batch: list[tuple[str, dict]], seqs: list[int]) -> dict[str, list[dict]]:
    """Stamp each frame with its seq; group -> its frames, in seq order."""
    for (_group, frame), seq in zip(batch, seqs, strict=True):
        frame["seq"] = seq
    return _grouped(batch)


def agent_group(agent_id: int | str) -> str:
    return f"agent.{agent_id}"


def customer_group(session_id: Any) -> str:
    return f"customer.{session_id}"


def seq_key(group: str) -> str:
    return f"{settings.REDIS_PREFIX}:seq:{group}"


class Publisher:
    """Runs an asyncio loop in a daemon thread and sends queued events in order."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.sent = 0
        self.failed = 0
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="push-publisher", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._queue: asyncio.Queue = asyncio.Queue()
        self._loop.create_task(self._drain())
        self._ready.set()
        self._loop.run_forever()

    async def _connect(self):
        import redis.asyncio as aioredis
        from channels.layers import channel_layers

        self._layer = channel_layers.make_backend("default")
        self._redis = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)

    async def _drain(self) -> None:
        await self._connect()
        while True:
            batch = [await self._queue.get()]
            # Under load, take what else is waiting: one pipelined INCR round trip numbers the
            # whole batch and each group gets one channel message carrying all its frames.
            while len(batch) < BATCH_MAX and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._send_batch(batch)
                self.sent += len(batch)
            except Exception:  # noqa: BLE001 -- a lost push is noticed by the client's seq
                self.failed += len(batch)
                log.exception("push of %d event(s) failed", len(batch))
                _count_dropped(len(batch))
            finally:
                with self._lock:
                    self._pending -= len(batch)
                    if self._pending == 0:
                        self._idle.set()

    async def _send_batch(self, batch: list[tuple[str, dict]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for group, _frame in batch:
            pipe.incr(seq_key(group))
        by_group = _numbered(batch, await pipe.execute())
        # Groups are independent recipients: send to them concurrently; within one group the
        # frames travel together, in seq order. Bounded: past its pool's size (redis-py's default
        # was 100) the core layer raised MaxConnectionsError and lost the batch.
        limit = asyncio.Semaphore(SEND_CONCURRENCY)

        async def send(group: str, frames: list[dict]) -> None:
            async with limit:
                await self._layer.group_send(group, _message(frames))

        await asyncio.gather(*(send(group, frames) for group, frames in by_group.items()))

    def publish(self, group: str, frame: dict) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (group, frame))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every published event has been handed to Redis (tests, shutdown)."""
        return self._idle.wait(timeout)


# A frame's placeholder seq: a uint64 that msgpack writes in full (0xcf and 8 bytes), 0xc1 being
# a byte msgpack never uses and UTF-8 never contains. Plus the frame's index in its message.
PLACEHOLDER = 0xC1C1C1C1_00000000

# KEYS: one seq key per frame. ARGV: per message, its channel, its payload, its frame count and
# the 1-based offset of each frame's placeholder value. Numbers each frame, writes the number
# over its placeholder, publishes; returns the seqs in frame order.
NUMBER_AND_PUBLISH = """
local function u64(n)
  local out = {}
  for i = 8, 1, -1 do
    out[i] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  return table.concat(out)
end
local arg, key, seqs = 1, 1, {}
while arg <= #ARGV do
  local channel, payload, count = ARGV[arg], ARGV[arg + 1], tonumber(ARGV[arg + 2])
  arg = arg + 3
  local parts, from = {}, 1
  for _ = 1, count do
    local at = tonumber(ARGV[arg])
    arg = arg + 1
    local seq = redis.call('INCR', KEYS[key])
    key = key + 1
    seqs[#seqs + 1] = seq
    parts[#parts + 1] = string.sub(payload, from, at - 1)
    parts[#parts + 1] = u64(seq)
    from = at + 8
  end
  parts[#parts + 1] = string.sub(payload, from)
  redis.call('PUBLISH', channel, table.concat(parts))
end
return seqs
"""


def _placeholder(index: int) -> bytes:
    return b"\xcf" + (PLACEHOLDER + index).to_bytes(8, "big")


class SyncPublisher:
    """pub/sub layer: number and publish from the calling thread, one round trip a batch.

    Frames go out exactly as the layer's own `group_send` would send them (its channel name
    and serializer), so consumers cannot tell the difference.
    """

    def __init__(self) -> None:
        import redis
        from channels.layers import channel_layers

        self.pid = os.getpid()
        self.sent = 0
        self.failed = 0
        self._layer = channel_layers.make_backend("default")
        # The layer's own default prefix, as its group channels are named.
        self._prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "asgi")
        self._redis = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=2,
            socket_connect_timeout=1,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
        )
        self._local = threading.local()
        # One round trip when the serialized frame can be patched in place (plain msgpack);
        # an encrypting serializer gets two: number, then publish.
        self._script = (
            self._redis.register_script(NUMBER_AND_PUBLISH) if self._patchable() else None
        )

    def _patchable(self) -> bool:
        payload = self._layer.serialize(_message([{"seq": PLACEHOLDER}]))
        at = payload.find(_placeholder(0))
        if at < 0:
            return False
        patched = payload[: at + 1] + (7).to_bytes(8, "big") + payload[at + 9 :]
        try:
            return self._layer.deserialize(patched)["frame"]["seq"] == 7
        except Exception:  # noqa: BLE001 -- anything unexpected: take the two round trips
            return False

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Events published inside go out together when the outermost batch ends."""
        held = getattr(self._local, "held", None)
        if held is not None:
            yield  # nested: the outer batch sends
            return
        self._local.held = held = []
        try:
            yield
        finally:
            self._local.held = None
            if held:
                self._send(held)

    def publish(self, group: str, frame: dict) -> None:
        held = getattr(self._local, "held", None)
        if held is not None:
            held.append((group, frame))
        else:
            self._send([(group, frame)])

    def _send(self, batch: list[tuple[str, dict]]) -> None:
        try:
            if self._script is not None:
                self._number_and_publish(batch)
            else:
                self._number_then_publish(batch)
            self.sent += len(batch)
        except Exception:  # noqa: BLE001 -- after the commit: a lost push is seen by its seq
            self.failed += len(batch)
            log.exception("push of %d event(s) failed", len(batch))
            _count_dropped(len(batch))

    def _channel(self, group: str) -> str:
        return f"{self._prefix}__group__{group}"

    def _number_and_publish(self, batch: list[tuple[str, dict]]) -> None:
        keys: list[str] = []
        args: list[Any] = []
        ordered: list[dict] = []
        for group, frames in _grouped(batch).items():
            for index, frame in enumerate(frames):
                frame["seq"] = PLACEHOLDER + index
            payload = self._layer.serialize(_message(frames))
            # 1-based, past the 0xcf: where the script writes each frame's number.
            offsets = [payload.index(_placeholder(i)) + 2 for i in range(len(frames))]
            args += [self._channel(group), payload, len(frames), *offsets]
            keys += [seq_key(group)] * len(frames)
            ordered += frames
        seqs = self._script(keys=keys, args=args)
        for frame, seq in zip(ordered, seqs, strict=True):
            frame["seq"] = seq

    def _number_then_publish(self, batch: list[tuple[str, dict]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for group, _frame in batch:
            pipe.incr(seq_key(group))
        by_group = _numbered(batch, pipe.execute())
        pipe = self._redis.pipeline(transaction=False)
        for group, frames in by_group.items():
            pipe.publish(self._channel(group), self._layer.serialize(_message(frames)))
        pipe.execute()

    def flush(self, timeout: float = 5.0) -> bool:
        return True  # nothing is ever held past publish() or the end of a batch


_publisher: "Publisher | SyncPublisher | None" = None
_publisher_lock = threading.Lock()


def publisher() -> "Publisher | SyncPublisher":
    """This process's publisher; a forked child (Celery prefork) builds its own."""
    global _publisher
    if _publisher is None or _publisher.pid != os.getpid():
        with _publisher_lock:
            if _publisher is None or _publisher.pid != os.getpid():
                pubsub = getattr(settings, "CHANNEL_LAYER", "pubsub") == "pubsub"
                _publisher = SyncPublisher() if pubsub else Publisher()
    return _publisher


@contextlib.contextmanager
def batch() -> Iterator[None]:
    """Send the events published inside with as few round trips as possible."""
    pub = publisher()
    if isinstance(pub, SyncPublisher):
        with pub.batch():
            yield
    else:
        yield  # the publisher thread batches whatever queued up meanwhile


def publish(group: str, event_type: str, **payload: Any) -> None:
    frame = {"type": event_type, **payload, "published_at": time.time()}
    publisher().publish(group, frame)


def to_agent(agent_id: int | str, event_type: str, **payload: Any) -> None:
    publish(agent_group(agent_id), event_type, **payload)


def to_customer(session_id: Any, event_type: str, **payload: Any) -> None:
    publish(customer_group(session_id), event_type, **payload)


def flush(timeout: float = 5.0) -> bool:
    return _publisher.flush(timeout) if _publisher is not None else True


# One async Redis client per event loop (daphne has one loop; tests may run several).
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = (
    weakref.WeakKeyDictionary()
)


def async_redis():
    """A Redis client bound to the running event loop, reused across calls."""
    import redis.asyncio as aioredis

    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, max_connections=settings.REDIS_MAX_CONNECTIONS
        )
        _async_clients[loop] = client
    return client


async def current_seq_async(group: str) -> int:
    """The last seq sent to a group, for snapshots built by consumers."""
    return int(await async_redis().get(seq_key(group)) or 0)


async def ephemeral_async(group: str, frame: dict) -> None:
    """A frame outside `seq` (typing): sent once from a consumer, never numbered, may be lost.

    Numbering it would make a dropped one look like a lost event to the client (a gap, then a
    resync) for something that is stale a few seconds later anyway."""
    from channels.layers import get_channel_layer

    await get_channel_layer().group_send(group, {"type": EVENT_HANDLER, "frame": frame})


TYPING_EVERY_SECONDS = 2  # one typing frame forwarded per sender and chat in this long


async def typing_due(session_id: str, sender: str) -> bool:
    """Whether this sender's typing in this chat may be forwarded now: at most once every
    TYPING_EVERY_SECONDS, whichever socket or process it comes from (one Redis SET NX)."""
    key = f"{settings.REDIS_PREFIX}:typing:{session_id}:{sender}"
    return bool(await async_redis().set(key, 1, nx=True, px=TYPING_EVERY_SECONDS * 1000))
