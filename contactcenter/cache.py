"""One Redis connection pool, and one client, per process for Django's cache (the throttles
and the timer ticks use it).

Django builds a cache object, and with it a new Redis pool, per thread or async context; under
ASGI every request runs in a new thread, so each throttled request opened (and set up) a new
Redis connection: 7 % of a busy daphne's CPU (py-spy, docs/performance.md).
"""

import threading

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class SharedConnectionPool(redis.ConnectionPool):
    """`from_url` hands back the process's pool for that URL, made once (redis-py resets a
    pool by itself in a forked child)."""

    _shared: dict[str, "SharedConnectionPool"] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "SharedConnectionPool":
        with cls._lock:
            pool = cls._shared.get(url)
            if pool is None:
                pool = cls._shared[url] = super().from_url(url, **kwargs)
            return pool


class SharedClientCacheClient(RedisCacheClient):
    """Django's client makes a new `redis.Redis` for every cache call; redis-py (5 and later)
    builds its table of reply callbacks in each one, which cost about 1 ms a throttled request
    (a read and a write): as much as the round trips. One client per pool, for the process."""

    _clients: dict[redis.ConnectionPool, redis.Redis] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients.setdefault(pool, self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    """Django's Redis cache backend with one client per connection pool (above)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientCacheClient
