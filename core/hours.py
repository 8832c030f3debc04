"""Working hours: weekly periods in an IANA time zone, and holidays.

Periods are wall-clock times in the desk's zone, so "09:00-18:00" stays 09:00-18:00 local on
both sides of a daylight-saving change (the UTC instants move, the hours do not). A period may
end at "24:00" (midnight); periods on one weekday may not overlap. A holiday closes its whole
local day.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from core.errors import Invalid

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
MAX_PERIODS = 50
MAX_HOLIDAYS = 400


def clean_timezone(value: object, *, field: str = "timezone") -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise Invalid("Give an IANA time zone, such as Europe/Berlin.", field=field)
    if value not in _zones():
        raise Invalid(f"Unknown time zone: {value[:64]}.", field=field)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"Unknown time zone: {value[:64]}.", field=field) from None
    return value


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def _minutes(value: object, field: str) -> int:
    if not isinstance(value, str) or not _HHMM.match(value):
        raise Invalid('Times are "HH:MM" (00:00 to 24:00).', field=field)
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def clean_working_hours(value: object, *, field: str = "working_hours") -> list[dict]:
    """[{"weekday": 0-6, "start": "HH:MM", "end": "HH:MM"}], start before end, no overlaps."""
    if not isinstance(value, list) or len(value) > MAX_PERIODS:
        raise Invalid(f"Give a list of at most {MAX_PERIODS} periods.", field=field)
    periods = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"weekday", "start", "end"}:
            raise Invalid('Each period is {"weekday", "start", "end"}.', field=field)
        weekday = item["weekday"]
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise Invalid("weekday is 0 (Monday) to 6 (Sunday).", field=field)
        start, end = _minutes(item["start"], field), _minutes(item["end"], field)
        if start == 24 * 60 or end <= start:
            raise Invalid("A period ends after it starts.", field=field)
        periods.append({"weekday": weekday, "start": item["start"], "end": item["end"]})
    periods.sort(key=lambda p: (p["weekday"], p["start"]))
    for before, after in zip(periods, periods[1:], strict=False):
        if before["weekday"] == after["weekday"] and after["start"] < before["end"]:
            raise Invalid("Periods of one weekday may not overlap.", field=field)
    return periods


def clean_holidays(value: object, *, field: str = "holidays") -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_HOLIDAYS:
        raise Invalid(f"Give a list of at most {MAX_HOLIDAYS} dates.", field=field)
    days = set()
    for item in value:
        try:
            days.add(date.fromisoformat(item).isoformat())
        except (TypeError, ValueError):
            raise Invalid('Holidays are dates, "YYYY-MM-DD".', field=field) from None
    return sorted(days)


@dataclass(frozen=True)
class Hours:
    """The schedule, as the settings hold it (already cleaned)."""

    enabled: bool
    timezone: str
    periods: tuple
    holidays: frozenset

    @classmethod
    def of(cls, cfg) -> "Hours":
        return cls(
            enabled=cfg.working_hours_enabled,
            timezone=cfg.timezone or "UTC",
            periods=tuple((p["weekday"], p["start"], p["end"]) for p in cfg.working_hours or []),
            holidays=frozenset(cfg.holidays or []),
        )

    def _zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def _day_periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's open periods as aware instants (local wall-clock times of that day)."""
        if day.isoformat() in self.holidays:
            return []
        zone = self._zone()
        found = []
        for weekday, start, end in self.periods:
            if weekday != day.weekday():
                continue
            found.append((_local(day, start, zone), _local(day, end, zone)))
        return found

    def is_open(self, now: datetime) -> bool:
        if not self.enabled:
            return True
        local = now.astimezone(self._zone())
        # Yesterday's too: never needed for periods within a day, but cheap and exact.
        return any(
            start <= now < end
            for day in (local.date(), local.date() - timedelta(days=1))
            for start, end in self._day_periods(day)
        )

    def next_open_at(self, now: datetime) -> datetime | None:
        """When it opens next (now if open); None if never within a year (or always open)."""
        if not self.enabled:
            return None
        if self.is_open(now):
            return now
        today = now.astimezone(self._zone()).date()
        for offset in range(0, 367):
            starts = [s for s, _ in self._day_periods(today + timedelta(days=offset)) if s > now]
            if starts:
                return min(starts)
        return None


def _local(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """The instant of a wall-clock time on a local day. A time that a spring-forward change
    skips (02:30 in Berlin on the last Sunday of March) counts with the offset before the
    change (03:30); an ambiguous one (autumn) is its first occurrence."""
    if hhmm == "24:00":
        return _local(day + timedelta(days=1), "00:00", zone)
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=zone).astimezone(UTC)
