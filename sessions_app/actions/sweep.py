"""The net under every timer: resolve whatever is due, then route whoever still waits.

A tick's countdown task (sessions_app/timers.py) runs `timers_resolve_due`; the beat's sweep
runs `timers_sweep`. Both are safe anywhere, any number of times: every timer is re-checked
under its session's lock.
"""

from datetime import datetime

from django.utils import timezone

from .. import selectors
from ..routing.drain import queue_drain
from .end import session_queue_timeout
from .messages import session_idle_end, session_idle_warn
from .offers import ExpireResult, offer_expire, offers_expire_due
from .overflow import sessions_overflow_due


def timers_resolve_due(*, now: datetime | None = None) -> dict:
    """Resolve every offer, idle warning, idle end, queue timeout and overflow timer due by
    `now`: what a tick's task does.

    First, without waiting, whatever nobody else holds: two tasks of adjacent ticks, or a task
    and the sweep, then split the work instead of queueing on each other's locks, and an idle
    end is not kept waiting behind an expiry's routing. Then, waiting, whatever was held and is
    still due.
    """
    now = now or timezone.now()
    due = selectors.due_sessions(now)
    # Warnings before ends: a session due for both gets its warning, then its end.
    warned = sum(session_idle_warn(session_id=pk, wait=False) for pk in due.warn)
    idle = sum(session_idle_end(session_id=pk, wait=False) for pk in due.idle)
    timed_out = sum(session_queue_timeout(session_id=pk, wait=False) for pk in due.queue_timeout)
    offers = selectors.overdue_offers(now)
    expired = offers_expire_due(now=now) if offers else 0
    # Most ticks find nothing due (their deadlines moved): two statements, and done.
    if warned < len(due.warn):
        warned += sum(
            session_idle_warn(session_id=pk) for pk in selectors.overdue_warning_session_ids(now)
        )
    if idle < len(due.idle):
        idle += sum(
            session_idle_end(session_id=pk) for pk in selectors.overdue_idle_session_ids(now)
        )
    if timed_out < len(due.queue_timeout):
        timed_out += sum(
            session_queue_timeout(session_id=pk) for pk in selectors.overdue_queue_session_ids(now)
        )
    if expired < len(offers):
        expired += sum(
            offer_expire(offer_id=pk, session_id=session_id) is ExpireResult.EXPIRED
            for pk, session_id in selectors.overdue_offers(now)
        )
    overflowed = sessions_overflow_due(now=now) if due.overflow else 0
    return {
        "offers_expired": expired,
        "idle_ended": idle,
        "idle_warned": warned,
        "queue_timed_out": timed_out,
        "overflowed": overflowed,
    }


def timers_sweep(*, now: datetime | None = None) -> dict:
    """Resolve every overdue timer, then drain every group's queue."""
    found = timers_resolve_due(now=now)
    found["routed"] = queue_drain()
    return found
