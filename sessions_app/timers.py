"""Countdown tasks for the desk's timers: one per tick in which something falls due.

Every offer expiry and every idle-customer end has its deadline in a database column. Rather
than one Celery task per deadline (each agent message moved the idle deadline and sent one,
and most of them fired only to find it moved), the deadline is rounded up to the next tick
(`TIMER_TICK_MS`, 50 ms by default) and one task is sent per tick, however many deadlines fall
in it: `timers_due_task` resolves whatever is due when it runs. The first process to claim a
tick in Redis sends its task; the others see the claim and send nothing.

A timer is therefore at most one tick late by design, plus the worker's pickup. A claimed tick
whose task is lost (its worker killed) is resolved by the beat's sweep, as any missed timer is.
"""

import logging
import threading
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_KEEP_CLAIMS = 120  # seconds a claim outlives its tick: later deadlines in it send nothing
_RECENT = 4096  # ticks this process remembers having claimed, so it asks Redis once each

_claimed: dict[datetime, None] = {}
_claimed_lock = threading.Lock()


def tick() -> timedelta:
    return timedelta(milliseconds=settings.TIMER_TICK_MS)


def tick_for(deadline: datetime) -> datetime:
    """The end of the tick the deadline falls in (the deadline itself if it is on a tick)."""
    step = tick()
    ticks = -((_EPOCH - deadline) // step)  # ceiling division
    return _EPOCH + ticks * step


def _claim(due: datetime) -> bool:
    """True if this call is the first, in any process, to ask for a task at `due`."""
    with _claimed_lock:
        if due in _claimed:
            return False
        _claimed[due] = None
        if len(_claimed) > _RECENT:
            del _claimed[next(iter(_claimed))]
    key = f"timers:tick:{due.timestamp():.3f}"
    try:
        return cache.add(key, 1, timeout=_KEEP_CLAIMS + max(0, _seconds_until(due)))
    except Exception:  # noqa: BLE001 -- cannot tell: send it (a duplicate costs one query)
        log.warning("could not claim timer tick %s; sending its task anyway", due, exc_info=True)
        return True


def _seconds_until(due: datetime) -> int:
    return int((due - datetime.now(UTC)).total_seconds()) + 1


TASK = "sessions_app.tasks.timers_due_task"  # sent by name: the tasks module sits above this one


def schedule(*deadlines: datetime) -> None:
    """Make sure a countdown task runs at the tick of each deadline. Call after commit."""
    for due in sorted({tick_for(deadline) for deadline in deadlines}):
        if _claim(due):
            _send(due)


def _send(due: datetime) -> None:
    from celery import current_app

    current_app.send_task(TASK, args=[due.isoformat()], eta=due, queue=settings.CELERY_TIMER_QUEUE)
