"""Thin Celery tasks: the fast path of each timer. The services re-check every deadline."""

import logging
import time
from datetime import datetime

from celery import shared_task

from . import services

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def timers_due_task(due: str) -> dict:
    """The countdown of one tick (sessions_app/timers.py): resolve whatever is due by now."""
    when = datetime.fromisoformat(due)
    if datetime.now(when.tzinfo) < when:
        # Early by a hair (clock granularity): retry at the tick itself, no query spent.
        timers_due_task.apply_async(args=[due], eta=when)
        return {}
    return services.timers_resolve_due()


# The next three tasks (offer_expire_task, offers_expire_task, session_idle_end_task) are no
# longer sent: timers go out per tick (above). They stay registered one release, so countdowns
# queued by the release before still run.


@shared_task(ignore_result=True)
def offer_expire_task(offer_id: int, session_id: str | None = None) -> str:
    """The offer's id is what it was scheduled for: any other standing offer is left alone."""
    result = services.offer_expire(offer_id=offer_id, session_id=session_id)
    if result is services.ExpireResult.NOT_DUE:
        # Fired a hair early (clock granularity): try again at the deadline itself.
        from .models import Offer

        expires_at = Offer.objects.filter(pk=offer_id).values_list("expires_at", flat=True).first()
        if expires_at is not None:
            offer_expire_task.apply_async(args=[offer_id, session_id], eta=expires_at)
    return result.value


@shared_task(ignore_result=True)
def offers_expire_task(offer_ids: list[int]) -> str:
    """Offers that share one deadline (made in one routing pass): one task for them all."""
    result = services.offers_expire(offer_ids=offer_ids)
    if result is services.ExpireResult.NOT_DUE:
        from django.conf import settings
        from django.db.models import Min

        from .models import Offer

        standing = Offer.objects.filter(pk__in=offer_ids, outcome="")
        expires_at = standing.aggregate(first=Min("expires_at"))["first"]
        if expires_at is not None:
            offers_expire_task.apply_async(
                args=[offer_ids], eta=expires_at, queue=settings.CELERY_TIMER_QUEUE
            )
    return result.value


@shared_task(ignore_result=True)
def session_idle_end_task(session_id: str, deadline: str) -> bool:
    when = datetime.fromisoformat(deadline)
    if datetime.now(when.tzinfo) < when:
        # Early by a hair (clock granularity): retry at the deadline itself, no query spent.
        session_idle_end_task.apply_async(args=[session_id, deadline], eta=when)
        return False
    # Most of these find the deadline moved (the agent wrote again) or cleared (the customer
    # replied): one lock-free query in the service, and done.
    return services.session_idle_end(session_id=session_id, deadline=when)


@shared_task(ignore_result=True)
def queue_drain_task() -> int:
    """Carry on routing that a request left after its rounds (see services.queue_drain)."""
    return services.queue_drain()


SWEEP_SHARE = 20  # overdue timers one resolver takes on; a bigger backlog gets helpers
SWEEP_HELPERS = 7  # at most, beside the sweep itself


@shared_task(ignore_result=True)
def timers_sweep_task() -> dict:
    """The net under every timer. A backlog (timers whose tasks died with a worker, or came
    due while the broker was down) is split between the sweep and helpers on other pool
    processes: each takes what nobody else holds (SKIP LOCKED), so they share it out."""
    from django.conf import settings
    from django.utils import timezone

    from . import selectors

    now = timezone.now()
    backlog = selectors.overdue_timer_count(now)
    for _ in range(min(SWEEP_HELPERS, backlog // SWEEP_SHARE)):
        timers_due_task.apply_async(args=[now.isoformat()], queue=settings.CELERY_TIMER_QUEUE)
    found = services.timers_sweep()
    if any(found.values()):
        log.info("sweep resolved %s", found)
    return found


_probe_redis = None


@shared_task(ignore_result=True)
def timer_probe_task(due: float, key: str) -> None:
    """A bare countdown task for bench/timers.py: records how late it ran, in ms, in Redis."""
    global _probe_redis
    late_ms = (time.time() - due) * 1000
    if _probe_redis is None:
        import redis
        from django.conf import settings

        _probe_redis = redis.Redis.from_url(settings.REDIS_URL)
    _probe_redis.rpush(key, late_ms)
