"""A bare countdown task for bench/timers.py: the yardstick its timers are measured against.

The bench's worker loads it with `--include bench.probe_tasks`; production workers never do.
"""

import time

from celery import shared_task

_redis = None


@shared_task(ignore_result=True)
def timer_probe_task(due: float, key: str) -> None:
    """Records how late it ran, in ms, in Redis."""
    global _redis
    late_ms = (time.time() - due) * 1000
    if _redis is None:
        import redis
        from django.conf import settings

        _redis = redis.Redis.from_url(settings.REDIS_URL)
    _redis.rpush(key, late_ms)
