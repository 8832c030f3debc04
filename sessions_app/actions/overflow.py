"""Overflow: a session that has waited past its group's `overflow_after_seconds` may also go to
the members of the group's overflow group (one step; it keeps its place in its own queue)."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.commit import after_commit

from .. import events
from ..events import Event
from ..models import ChatSession, EventKind, SessionState
from ..routing.drain import audit_requeued, drain_after_commit

BATCH = 500


def sessions_overflow_due(*, now: datetime | None = None) -> int:
    """Mark every waiting session whose overflow moment has passed, and route them again.

    Sessions someone holds right now are left for the next tick or sweep (never waited for),
    so this is never late by more than the sweep interval. Returns how many.
    """
    now = now or timezone.now()
    with transaction.atomic():
        waiting = [SessionState.QUEUED, SessionState.OFFERED]
        due = list(
            ChatSession.objects.select_for_update(skip_locked=True)
            .filter(overflow_at__lte=now, overflowed_at__isnull=True, state__in=waiting)
            .order_by("overflow_at", "pk")[:BATCH]
        )
        if not due:
            return 0
        ChatSession.objects.filter(pk__in=[s.pk for s in due]).update(overflowed_at=now)
        recorded = []
        for session in due:
            session.overflowed_at = now
            late_ms = round((now - session.overflow_at).total_seconds() * 1000, 1)
            recorded.append(Event(EventKind.SESSION_OVERFLOWED, session, data={"late_ms": late_ms}))
        events.record(*recorded)
        # Waiting ones may now go to the overflow group's agents: their own group routes them.
        queued = [s for s in due if s.state == SessionState.QUEUED]
        groups = {s.skill_group_id for s in queued if s.skill_group_id is not None}
        drain_after_commit(group_ids=groups)
        # Then, for those still waiting, why: the overflow group's agents named too.
        after_commit(audit_requeued, [s.pk for s in queued])
    return len(due)
