"""Two desks on one Redis server: with their own REDIS_PREFIX, neither runs the other's tasks."""

import uuid

import pytest
import redis
from celery import Celery
from django.conf import settings

from tests import procs
from tests.conftest import wait_until


def desk_client(prefix: str) -> Celery:
    """What a desk's web process sends tasks with: its broker, under its own prefix."""
    app = Celery(f"desk-{prefix}", broker=settings.CELERY_BROKER_URL)
    app.conf.broker_transport_options = {"global_keyprefix": f"{prefix}:celery:"}
    return app


@pytest.mark.live
def test_tasks_of_one_desk_never_reach_the_workers_of_another_on_the_same_redis(django_db_setup):
    # Given two desks sharing one Redis database, each with a worker on the same queue names
    desks = [f"deska{uuid.uuid4().hex[:6]}", f"deskb{uuid.uuid4().hex[:6]}"]
    workers = [
        procs.celery_worker(f"worker-{desk}", 1, include="tests.celery_probe", REDIS_PREFIX=desk)
        for desk in desks
    ]
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            procs.wait_worker_ready(worker)
        # When each desk sends ten tasks to its "default" queue
        key = f"prefix-test:{uuid.uuid4().hex}"
        for desk in desks:
            app = desk_client(desk)
            for _ in range(10):
                app.send_task("tests.celery_probe.record_desk", args=[key], queue="default")
        # Then every task ran on its own desk's worker
        wait_until(lambda: client.llen(key) >= 20, 20)
        ran = [value.decode() for value in client.lrange(key, 0, -1)]
        assert sorted(ran) == sorted([desks[0]] * 10 + [desks[1]] * 10)
    finally:
        for worker in workers:
            worker.stop()
        client.close()
