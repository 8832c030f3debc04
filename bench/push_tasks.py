"""A Celery task for bench/push_latency.py: publish a burst of events from a worker process."""

import time

from celery import shared_task


@shared_task(ignore_result=True)
def publish_burst(agent_id: int, count: int, result_key: str) -> None:
    """Publish `count` numbered events to one agent, then record how fast the publisher went."""
    import redis
    from django.conf import settings

    from sessions_app import push

    pub = push.publisher()
    sent_before, failed_before = pub.sent, pub.failed
    started = time.perf_counter()
    for n in range(count):
        push.to_agent(agent_id, "bench.tick", n=n)
    queued = time.perf_counter() - started
    push.flush(timeout=120)
    elapsed = time.perf_counter() - started
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.hset(
        result_key,
        mapping={
            "elapsed": elapsed,
            "queued": queued,
            "sent": pub.sent - sent_before,
            "failed": pub.failed - failed_before,
        },
    )
    client.close()
