"""channels-redis' pub/sub layer, with subscribes and unsubscribes sent in batches.

Its shard connection sends each SUBSCRIBE or UNSUBSCRIBE alone under one lock per process: a
handshake subscribes twice and a close unsubscribes twice, one after another, each waiting a
turn of a busy event loop. At 20 new chats/s that queue outgrew the loop and customer
handshakes hit daphne's 5 s timeout. Here whatever is waiting goes out in one command.
"""

import asyncio

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close, decode_hosts


class _BatchedShard(RedisSingleShardConnection):
    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._wanted: dict[str, bool] = {}  # channel -> subscribed or not; the last ask wins
        self._waiters: list[asyncio.Future] = []
        self._flushing: asyncio.Task | None = None

    async def subscribe(self, channel):
        await self._change(channel, True)

    async def unsubscribe(self, channel):
        await self._change(channel, False)

    async def _change(self, channel: str, on: bool) -> None:
        """Returns once a command carrying this change (or a later one) has gone to Redis."""
        self._wanted[channel] = on
        done = asyncio.get_running_loop().create_future()
        self._waiters.append(done)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())
        await done

    async def _flush(self) -> None:
        while self._wanted:
            wanted, waiters = self._wanted, self._waiters
            self._wanted, self._waiters = {}, []
            try:
                async with self._lock:
                    self._ensure_redis()
                    self._ensure_receiver()
                    on = [c for c, w in wanted.items() if w and c not in self._subscribed_to]
                    off = [c for c, w in wanted.items() if not w and c in self._subscribed_to]
                    if on:
                        await self._pubsub.subscribe(*on)
                        self._subscribed_to.update(on)
                    if off:
                        await self._pubsub.unsubscribe(*off)
                        self._subscribed_to.difference_update(off)
            except Exception as exc:  # noqa: BLE001 -- Redis down: every waiter hears it
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def flush(self):
        self._wanted, waiters, self._waiters = {}, self._waiters, []
        for waiter in waiters:
            waiter.cancel()
        await super().flush()


class _BatchedLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, hosts=None, *args, **kwargs):
        super().__init__(hosts, *args, **kwargs)
        self._shards = [_BatchedShard(host, self) for host in decode_hosts(hosts)]


class BatchedPubSubChannelLayer(RedisPubSubChannelLayer):
    """RedisPubSubChannelLayer whose per-loop layers batch their subscription changes."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = _BatchedLoopLayer(
                *self._args, **self._kwargs, channel_layer=self
            )
            _wrap_close(self, loop)
        return layer
