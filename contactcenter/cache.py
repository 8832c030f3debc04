"""One Redis connection pool per process for Django's cache (the throttles use it).

Django builds a cache object, and with it a new Redis pool, per thread or async context; under
ASGI every request runs in a new thread, so each throttled request opened (and set up) a new
Redis connection: 7 % of a busy daphne's CPU (py-spy, docs/performance.md).
"""

import threading

import redis


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
