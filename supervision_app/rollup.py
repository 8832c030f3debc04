"""The reports' day rollups: written by beat for days that are over, dropped when one of their
chats changes later.

`rollup_days()` (beat, every few minutes) writes the missing past days of the settings' time
zone, newest first, each day in one transaction: a row per skill group and one for all. The
emitter calls `invalidate()` in an action's transaction when a chat created before today ends,
is served or is rated: its day's rows go, and the next run writes them again. Both hold the
day's advisory lock (PostgreSQL), so a rollup never writes figures read before a change that
committed after it: whichever comes second sees the other's work.
"""

import logging
import time as clock
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from agents_app.selectors import service_settings
from sessions_app.models import ChatSession, EventKind
from skills_app.models import SkillGroup

from .models import ReportDay
from .reports import STORED, Figures, chat_rows, day_span

log = logging.getLogger(__name__)

LOCK_SPACE = 0x5245  # advisory locks (LOCK_SPACE, day ordinal): this module's own
# The events after which a chat's figures may differ from its day's rollup.
CHANGES = {
    EventKind.SESSION_ENDED,
    EventKind.OFFER_ACCEPTED,
    EventKind.SESSION_ASSIGNED,
    EventKind.RATING_SUBMITTED,
    EventKind.TRANSFER_ACCEPTED,
}
ZONE_TTL = 60.0  # seconds a process trusts the time zone it read from the settings


def _lock_day(day: date) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_SPACE, day.toordinal()])


def rollup_day(day: date, zone_name: str) -> None:
    """Write one past day's rows (per group, and all groups), replacing any."""
    zone = ZoneInfo(zone_name)
    start, end = day_span(day, zone)
    with transaction.atomic():
        _lock_day(day)
        total, per_group = Figures(), {}
        for group_id, *chat in chat_rows(start, end).iterator(chunk_size=5000):
            total.add(*chat)
            if group_id is not None:
                per_group.setdefault(group_id, Figures()).add(*chat)
        existing = set(SkillGroup.objects.filter(pk__in=list(per_group)).values_list("pk"))
        ReportDay.objects.filter(timezone=zone_name, day=day).delete()
        ReportDay.objects.bulk_create(
            [
                _row(zone_name, day, start, end, group_id, figures)
                for group_id, figures in [(None, total), *per_group.items()]
                if group_id is None or (group_id,) in existing
            ]
        )


def _row(zone_name, day, start, end, group_id, figures: Figures) -> ReportDay:
    p50, p90 = figures.wait_percentiles()
    return ReportDay(
        timezone=zone_name,
        day=day,
        group_id=group_id,
        starts_at=start,
        ends_at=end,
        wait_p50=p50,
        wait_p90=p90,
        **{name: getattr(figures, name) for name in STORED},
    )


def rollup_days(*, now: datetime | None = None, limit: int = 400) -> int:
    """Write the missing days that are over, newest first (at most `limit`); drop rows of
    another time zone. Returns how many days it wrote."""
    now = now or timezone.now()
    zone_name = service_settings().timezone
    zone = ZoneInfo(zone_name)
    ReportDay.objects.exclude(timezone=zone_name).delete()
    first = ChatSession.objects.aggregate(first=Min("created_at"))["first"]
    if first is None:
        return 0
    yesterday = now.astimezone(zone).date() - timedelta(days=1)
    day, oldest = yesterday, first.astimezone(zone).date()
    done = set(
        ReportDay.objects.filter(
            timezone=zone_name, group=None, day__gte=oldest, day__lte=yesterday
        ).values_list("day", flat=True)
    )
    written, started = 0, clock.monotonic()
    while day >= oldest and written < limit:
        if day not in done:
            rollup_day(day, zone_name)
            written += 1
        day -= timedelta(days=1)
    if written:
        log.info("rolled up %d day(s) in %.1f s", written, clock.monotonic() - started)
    return written


# --- invalidation, from the emitter -------------------------------------------------------------

_zone: tuple[float, ZoneInfo] | None = None


def _current_zone() -> ZoneInfo:
    global _zone
    if _zone is None or clock.monotonic() - _zone[0] > ZONE_TTL:
        _zone = (clock.monotonic(), ZoneInfo(service_settings().timezone))
    return _zone[1]


def invalidate(events: Iterable) -> None:
    """In the action's transaction: drop the rollups of the days of chats created before today
    that these events change. Today's chats (nearly all) cost nothing: no day of theirs is
    rolled up yet."""
    now = timezone.now()
    created = {
        e.session.created_at
        for e in events
        if e.kind in CHANGES and e.session is not None and e.session.created_at is not None
    }
    if not created:
        return
    zone = _current_zone()
    today = now.astimezone(zone).date()
    # Days in order, as every lock is taken in one order.
    for at in sorted(created):
        if at.astimezone(zone).date() >= today:
            continue
        _lock_day(at.astimezone(zone).date())
        ReportDay.objects.filter(starts_at__lte=at, ends_at__gt=at).delete()
