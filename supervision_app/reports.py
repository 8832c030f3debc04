"""The reports: volumes, waits, handle times and ratings by hour or day, and per agent.

Every figure belongs to the bucket in which its chat was *created* (in the settings' time zone):
a chat that arrived at 23:59 and was answered at 00:01 is one of the earlier day's served chats,
with a two-minute wait. Definitions (docs/api.md says the same):

- created: chats created in the bucket; served: of those, the ones an agent accepted;
- abandoned: ended by the customer before anyone served them; timed_out: ended by the queue
  timeout; idle_ended: ended by the customer idle timeout;
- wait_p50 / wait_p90: percentiles (linear, as PostgreSQL's percentile_cont) of the served
  chats' waits, from creation to the first acceptance, in seconds;
- handle_avg: the mean time from acceptance to the end of the served chats that ended;
- rating_avg / rating_count: the chats' ratings, on the scale the settings have now.

Past days come from the rollups (supervision_app/rollup.py) where they exist; anything else is
computed here from the chats, with the same `Figures`.
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    Subquery,
)
from django.utils import timezone

from agents_app.models import Agent
from agents_app.selectors import service_settings
from sessions_app.models import (
    ChatSession,
    EndReason,
    EventKind,
    Offer,
    OfferKind,
    OfferOutcome,
    Rating,
    SessionEvent,
)

from .models import ReportDay

BUCKETS = ("hour", "day")
MAX_DAYS = 366  # a range longer than this is refused (`range_too_long`)
MAX_HOUR_DAYS = 31  # hour buckets: at most a month (744 buckets)
SUMMARY_FIELDS = (
    "created",
    "served",
    "abandoned",
    "idle_ended",
    "timed_out",
    "wait_p50",
    "wait_p90",
    "handle_avg",
    "rating_avg",
    "rating_count",
)
AGENT_FIELDS = (
    "served",
    "missed_offers",
    "declined",
    "transfers_out",
    "handle_avg",
    "rating_avg",
    "online_seconds",
    "away_seconds",
)


def percentile(ordered: list[float], q: float) -> float | None:
    """The q-quantile of sorted values, interpolated linearly between the two nearest ranks."""
    if not ordered:
        return None
    at = q * (len(ordered) - 1)
    low = math.floor(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


@dataclass
class Figures:
    """One bucket's accumulated chats (or a rollup row's figures)."""

    created: int = 0
    served: int = 0
    abandoned: int = 0
    idle_ended: int = 0
    timed_out: int = 0
    waits: list = field(default_factory=list)
    handle_sum: float = 0.0
    handle_count: int = 0
    rating_sum: float = 0.0  # scores as fractions of their scale
    rating_count: int = 0
    # From a rollup: the percentiles already computed (the waits are not kept).
    p50: float | None = None
    p90: float | None = None

    def add(self, created_at, accepted_at, ended_at, end_reason, score, scale) -> None:
        self.created += 1
        if accepted_at is not None:
            self.served += 1
            self.waits.append(max((accepted_at - created_at).total_seconds(), 0.0))
            if ended_at is not None:
                self.handle_sum += max((ended_at - accepted_at).total_seconds(), 0.0)
                self.handle_count += 1
        elif end_reason == EndReason.CUSTOMER_ENDED:
            self.abandoned += 1
        if end_reason == EndReason.CUSTOMER_IDLE_TIMEOUT:
            self.idle_ended += 1
        elif end_reason == EndReason.QUEUE_TIMEOUT:
            self.timed_out += 1
        if score is not None and scale:
            self.rating_sum += score / scale
            self.rating_count += 1

    def wait_percentiles(self) -> tuple[float | None, float | None]:
        if self.p50 is not None or not self.waits:
            return self.p50, self.p90
        ordered = sorted(self.waits)
        return percentile(ordered, 0.5), percentile(ordered, 0.9)

    def as_dict(self, scale: int) -> dict:
        p50, p90 = self.wait_percentiles()
        return {
            "created": self.created,
            "served": self.served,
            "abandoned": self.abandoned,
            "idle_ended": self.idle_ended,
            "timed_out": self.timed_out,
            "wait_p50": _round(p50, 1),
            "wait_p90": _round(p90, 1),
            "handle_avg": _round(self.handle_sum / self.handle_count, 1)
            if self.handle_count
            else None,
            "rating_avg": _round(scale * self.rating_sum / self.rating_count, 2)
            if self.rating_count
            else None,
            "rating_count": self.rating_count,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# --- ranges and buckets ------------------------------------------------------------------------


def day_span(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A local day's start and end (the next midnight), aware: 23 or 25 hours across DST."""
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start, end


UTC = ZoneInfo("UTC")


def _bucket_key(moment: datetime, zone: ZoneInfo, bucket: str) -> datetime:
    """The bucket's start as a UTC instant (local wall times repeat in autumn; instants do
    not): a local day from its midnight, a local hour from its start (the fold kept, so the
    repeated hour is a bucket of its own; half-hour zones' hours start on their own :00)."""
    local = moment.astimezone(zone)
    if bucket == "day":
        return day_span(local.date(), zone)[0].astimezone(UTC)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _bucket_starts(date_from: date, date_to: date, zone: ZoneInfo, bucket: str) -> list[datetime]:
    if bucket == "day":
        return [day_span(day, zone)[0].astimezone(UTC) for day in sorted(_days(date_from, date_to))]
    start, end = day_span(date_from, zone)[0], day_span(date_to, zone)[1]
    at = _bucket_key(start, zone, bucket)
    starts = []
    while at < end:
        if at >= start:
            starts.append(at)
        at += timedelta(hours=1)
    return starts


def chat_rows(start: datetime, end: datetime, group_id: int | None = None):
    """The columns the figures need, of the chats created in [start, end)."""
    chats = ChatSession.objects.filter(created_at__gte=start, created_at__lt=end)
    if group_id is not None:
        chats = chats.filter(skill_group_id=group_id)
    return chats.order_by().values_list(
        "skill_group_id",
        "created_at",
        "accepted_at",
        "ended_at",
        "end_reason",
        "rating__score",
        "rating__scale",
    )


# --- the summary --------------------------------------------------------------------------------


def summary_report(
    *, date_from: date, date_to: date, bucket: str = "day", group_id: int | None = None
) -> dict:
    """The summary of the contract: one entry per bucket of the range (both days included)."""
    cfg = service_settings()
    zone = ZoneInfo(cfg.timezone)
    now = timezone.now()
    starts = _bucket_starts(date_from, date_to, zone, bucket)
    figures = {start: Figures() for start in starts}
    raw_days = _days(date_from, date_to)
    if bucket == "day":
        rolled = ReportDay.objects.filter(
            timezone=cfg.timezone, day__gte=date_from, day__lte=date_to, group_id=group_id
        )
        for row in rolled:
            if day_span(row.day, zone)[1] > now:
                continue  # written before a clock or zone change: the day is not over
            figures[day_span(row.day, zone)[0].astimezone(UTC)] = from_rollup(row)
            raw_days.discard(row.day)
    for start, end in _runs(sorted(raw_days), zone):
        for _group, *chat in chat_rows(start, end, group_id):
            key = _bucket_key(chat[0], zone, bucket)
            if key in figures:
                figures[key].add(*chat)
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "bucket": bucket,
        "group": None if group_id is None else str(group_id),
        "timezone": cfg.timezone,
        "buckets": [
            {
                "start": start.astimezone(zone).isoformat(),
                **figures[start].as_dict(cfg.rating_scale),
            }
            for start in starts
        ],
    }


# The figures a rollup row keeps as they are (its percentiles are computed before it is written).
STORED = (
    "created",
    "served",
    "abandoned",
    "idle_ended",
    "timed_out",
    "handle_sum",
    "handle_count",
    "rating_sum",
    "rating_count",
)


def from_rollup(row: ReportDay) -> Figures:
    return Figures(
        **{name: getattr(row, name) for name in STORED}, p50=row.wait_p50, p90=row.wait_p90
    )


def _days(date_from: date, date_to: date) -> set[date]:
    return {date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)}


def _runs(days: list[date], zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Consecutive days as (start, end) spans: one read per run of days not rolled up."""
    runs: list[list[date]] = []
    for day in days:
        if runs and runs[-1][-1] + timedelta(days=1) == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    return [(day_span(run[0], zone)[0], day_span(run[-1], zone)[1]) for run in runs]


# --- per agent ----------------------------------------------------------------------------------


def agents_report(*, date_from: date, date_to: date) -> dict:
    """Per agent, over the chats created (and offers made) in the range: see AGENT_FIELDS."""
    cfg = service_settings()
    zone = ZoneInfo(cfg.timezone)
    start, _ = day_span(date_from, zone)
    _, end = day_span(date_to, zone)
    rows: dict[int, dict] = {}

    def row(agent_id: int) -> dict:
        if agent_id not in rows:
            rows[agent_id] = {
                "served": 0,
                "missed_offers": 0,
                "declined": 0,
                "transfers_out": 0,
                "handle_avg": None,
                "rating_avg": None,
                "online_seconds": 0,
                "away_seconds": 0,
            }
        return rows[agent_id]

    served = (
        ChatSession.objects.filter(
            created_at__gte=start, created_at__lt=end, accepted_at__isnull=False
        )
        .exclude(agent_id=None)
        .values("agent_id")
        .annotate(
            n=Count("pk"),
            handle=Avg(
                F("ended_at") - F("accepted_at"),
                filter=Q(ended_at__isnull=False),
                output_field=DurationField(),
            ),
        )
        .order_by()
    )
    for found in served:
        figures = row(found["agent_id"])
        figures["served"] = found["n"]
        if found["handle"] is not None:
            figures["handle_avg"] = _round(found["handle"].total_seconds(), 1)
    offers = (
        Offer.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            kind=OfferKind.ROUTING,
            outcome__in=[OfferOutcome.EXPIRED, OfferOutcome.DECLINED],
        )
        .values("agent_id")
        .annotate(
            missed=Count("pk", filter=Q(outcome=OfferOutcome.EXPIRED)),
            declined=Count("pk", filter=Q(outcome=OfferOutcome.DECLINED)),
        )
        .order_by()
    )
    for found in offers:
        if found["missed"] or found["declined"]:
            row(found["agent_id"]).update(missed_offers=found["missed"], declined=found["declined"])
    transfers = (
        Offer.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            kind=OfferKind.TRANSFER,
            outcome=OfferOutcome.ACCEPTED,
        )
        .exclude(from_agent_id=None)
        .values("from_agent_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for found in transfers:
        row(found["from_agent_id"])["transfers_out"] = found["n"]
    fraction = ExpressionWrapper(F("score") * 1.0 / F("scale"), output_field=FloatField())
    ratings = (
        # A rating comes after its chat began: its own date bounds the rows read (indexed).
        Rating.objects.filter(
            created_at__gte=start, session__created_at__gte=start, session__created_at__lt=end
        )
        .exclude(agent_id=None)
        .values("agent_id")
        .annotate(avg=Avg(fraction))
        .order_by()
    )
    for found in ratings:
        row(found["agent_id"])["rating_avg"] = _round(cfg.rating_scale * found["avg"], 2)
    for agent_id, status, seconds in status_seconds(start, min(end, timezone.now())):
        if status in ("online", "away") and seconds > 0:
            row(agent_id)[f"{status}_seconds"] += round(seconds)
    # Every agent's name in one read: cheaper than a list of thousands of ids to look up.
    names = {
        a["id"]: a["display_name"] or a["user__username"]
        for a in Agent.objects.values("id", "display_name", "user__username")
    }
    agents = [
        {"agent": {"id": str(agent_id), "display_name": names[agent_id]}, **figures}
        for agent_id, figures in rows.items()
        if agent_id in names
    ]
    agents.sort(key=lambda a: (-a["served"], a["agent"]["display_name"].lower()))
    return {"from": date_from.isoformat(), "to": date_to.isoformat(), "agents": agents}


def status_seconds(start: datetime, end: datetime) -> list[tuple[int, str, float]]:
    """(agent, status, seconds) spent in each status within [start, end), from the status
    changes the desk recorded and the status each agent had when the span began."""
    if end <= start:
        return []
    status_changes = SessionEvent.objects.filter(kind=EventKind.AGENT_STATUS_CHANGED)
    totals: dict[tuple[int, str], float] = {}
    first_change: dict[int, datetime] = {}
    for agent_id, status, seconds, first in _time_in_status(start, end):
        if status is not None:
            totals[agent_id, status] = totals.get((agent_id, status), 0.0) + seconds
        first_change[agent_id] = min(first_change.get(agent_id, first), first)
    # Before its first change in the span, an agent was in the status of its last change before
    # the span (one index probe per agent).
    before = status_changes.filter(agent_id=OuterRef("pk"), created_at__lt=start).order_by(
        "-created_at", "-pk"
    )
    prior = (
        Agent.objects.annotate(prior=Subquery(before.values("data__status")[:1]))
        .exclude(prior=None)
        .values_list("id", "prior")
    )
    for agent_id, status in prior:
        seconds = (first_change.get(agent_id, end) - start).total_seconds()
        totals[agent_id, status] = totals.get((agent_id, status), 0.0) + seconds
    return [(agent_id, status, seconds) for (agent_id, status), seconds in totals.items()]


_TIME_IN_STATUS = """
SELECT agent_id, data ->> 'status',
       SUM(EXTRACT(EPOCH FROM COALESCE(next_at, %(end)s) - created_at)), MIN(created_at)
FROM (
    SELECT agent_id, created_at, data,
           LEAD(created_at) OVER (PARTITION BY agent_id ORDER BY created_at, id) AS next_at
    FROM {table}
    WHERE kind = %(kind)s AND agent_id IS NOT NULL
      AND created_at >= %(start)s AND created_at < %(end)s
) AS changes
GROUP BY agent_id, data ->> 'status'
"""


def _time_in_status(start: datetime, end: datetime):
    """(agent, status, seconds, first change to it) of the changes within the span: each status
    lasts until the agent's next change, or the span's end. PostgreSQL adds it up itself (a
    month of a large floor is a few hundred thousand changes); other databases in Python."""
    if connection.vendor != "postgresql":
        return time_in_status_python(start, end)
    params = {"start": start, "end": end, "kind": str(EventKind.AGENT_STATUS_CHANGED)}
    with connection.cursor() as cursor:
        cursor.execute(_TIME_IN_STATUS.format(table=SessionEvent._meta.db_table), params)
        return [(a, s, float(sec), first) for a, s, sec, first in cursor.fetchall()]


def time_in_status_python(start: datetime, end: datetime):
    """`_time_in_status` for databases without PostgreSQL's JSON operators (SQLite)."""
    found: dict[int, list] = {}
    changes = (
        SessionEvent.objects.filter(
            kind=EventKind.AGENT_STATUS_CHANGED, created_at__gte=start, created_at__lt=end
        )
        .exclude(agent_id=None)
        .order_by("agent_id", "created_at", "pk")
        .values_list("agent_id", "created_at", "data")
    )
    for agent_id, at, data in changes:
        found.setdefault(agent_id, []).append((at, (data or {}).get("status")))
    totals: dict[tuple[int, str], list] = {}  # (agent, status): [seconds, first change to it]
    for agent_id, moments in found.items():
        for (at, status), (next_at, _) in zip(moments, [*moments[1:], (end, None)], strict=True):
            total = totals.setdefault((agent_id, status), [0.0, at])
            total[0] += (next_at - at).total_seconds()
    return [(agent, status, sec, first) for (agent, status), (sec, first) in totals.items()]
