"""A task for the tests' own workers: it says which desk's worker ran it."""

from celery import shared_task


@shared_task(ignore_result=True)
def record_desk(key: str) -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.rpush(key, settings.REDIS_PREFIX)
    finally:
        client.close()
