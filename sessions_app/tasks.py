"""Thin Celery tasks: the fast path of each timer, the drain hand-over, the sweep.

The actions re-check every deadline under its session's lock, so a task that fires twice, late
or never is harmless.
"""

import logging
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import selectors
from .actions.sweep import timers_resolve_due, timers_sweep
from .routing.drain import drain, queue_drain

log = logging.getLogger(__name__)

SWEEP_SHARE = 20  # overdue timers one resolver takes on; a bigger backlog gets helpers
SWEEP_HELPERS = 7  # at most, beside the sweep itself


@shared_task(ignore_result=True)
def timers_due_task(due: str) -> dict:
    """The countdown of one tick (sessions_app/timers.py): resolve whatever is due by now."""
    when = datetime.fromisoformat(due)
    if datetime.now(when.tzinfo) < when:
        # Early by a hair (clock granularity): retry at the tick itself, no query spent.
        timers_due_task.apply_async(args=[due], eta=when)
        return {}
    return timers_resolve_due()


@shared_task(ignore_result=True)
def queue_drain_task(group_id: int | None = None) -> int:
    """Carry on routing that a request left after its rounds (sessions_app/routing/drain.py);
    without a group, every group with a queue."""
    return queue_drain() if group_id is None else drain(group_id).routed


@shared_task(ignore_result=True)
def timers_sweep_task() -> dict:
    """The net under every timer. A backlog (timers whose tasks died with a worker, or came
    due while the broker was down) is split between the sweep and helpers on other pool
    processes: each takes what nobody else holds (SKIP LOCKED), so they share it out."""
    now = timezone.now()
    backlog = selectors.overdue_timer_count(now)
    for _ in range(min(SWEEP_HELPERS, backlog // SWEEP_SHARE)):
        timers_due_task.apply_async(args=[now.isoformat()], queue=settings.CELERY_TIMER_QUEUE)
    found = timers_sweep()
    if any(found.values()):
        log.info("sweep resolved %s", found)
    return found
