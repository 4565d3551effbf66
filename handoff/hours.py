"""Business hours of the agent team: ``"mon-fri 09:00-18:00; sat 10:00-14:00"`` in a time zone,
with holidays (``2026-01-01`` once, ``12-25`` every year) on which nobody works.

An empty spec means people are always there (but for the holidays). Outside the hours the
customer is told when the next shift starts, and the ticket waits in its queue. The metrics
count waits in business hours too (`BusinessHours.seconds_between`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

__all__ = ["BusinessHours", "HoursError"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_CLOSED_DAYS = 40  # how far `next_open` looks (a week of shifts plus long holidays)
_HOLIDAY = re.compile(r"^(?:(?P<year>\d{4})-)?(?P<month>\d{2})-(?P<day>\d{2})$")
_ENTRY = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)


class HoursError(ValueError):
    """A business-hours spec that cannot be read."""


@dataclass(frozen=True, slots=True)
class _Shift:
    weekday: int
    start: int  # minutes after midnight
    end: int  # exclusive; 24:00 = 1440


def _minutes(value: str, spec: str) -> int:
    hours, _, minutes = value.partition(":")
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > 24 * 60:
        raise HoursError(f"bad time {value!r} in business hours {spec!r}")
    return total


def _holidays(values: Iterable[str]) -> tuple[frozenset[dt.date], frozenset[tuple[int, int]]]:
    """Dated holidays and every-year ones ((month, day))."""
    dated: set[dt.date] = set()
    yearly: set[tuple[int, int]] = set()
    for raw in values:
        match = _HOLIDAY.match(raw.strip())
        try:
            if match is None:
                raise ValueError(raw)
            month, day = int(match["month"]), int(match["day"])
            dt.date(int(match["year"] or 2000), month, day)  # a real day (2000: 29.02 exists)
        except ValueError as e:
            raise HoursError(f"holiday {raw!r} is not YYYY-MM-DD or MM-DD") from e
        if match["year"]:
            dated.add(dt.date(int(match["year"]), month, day))
        else:
            yearly.add((month, day))
    return frozenset(dated), frozenset(yearly)


class BusinessHours:
    """When agents work, as local weekday shifts, minus the holidays."""

    def __init__(
        self, spec: str, timezone: str = "Europe/Kyiv", holidays: Iterable[str] = ()
    ) -> None:
        self.spec = spec.strip()
        self.tz = ZoneInfo(timezone)
        self._dated, self._yearly = _holidays(holidays)
        self._shifts: list[_Shift] = []
        for raw in re.split(r"[;,]", self.spec.lower()):
            entry = " ".join(raw.split())
            if not entry:
                continue
            match = _ENTRY.match(entry)
            if match is None or match["first"] not in DAYS:
                raise HoursError(f"cannot read {raw.strip()!r} in business hours {spec!r}")
            last = match["last"] or match["first"]
            if last not in DAYS:
                raise HoursError(f"unknown day {last!r} in business hours {spec!r}")
            start, end = _minutes(match["start"], spec), _minutes(match["end"], spec)
            if end <= start:
                raise HoursError(f"shift {entry!r} ends before it starts")
            first_day, last_day = DAYS.index(match["first"]), DAYS.index(last)
            day = first_day
            while True:
                self._shifts.append(_Shift(day, start, end))
                if day == last_day:
                    break
                day = (day + 1) % 7

    @property
    def always(self) -> bool:
        return not self._shifts and not self._dated and not self._yearly

    def holiday(self, day: dt.date) -> bool:
        return day in self._dated or (day.month, day.day) in self._yearly

    def is_open(self, at: dt.datetime) -> bool:
        local = at.astimezone(self.tz)
        if self.holiday(local.date()):
            return False
        if not self._shifts:
            return True
        minute = local.hour * 60 + local.minute
        return any(s.weekday == local.weekday() and s.start <= minute < s.end for s in self._shifts)

    def _open_spans(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The day's working time as UTC intervals (the whole day without a spec)."""
        if self.holiday(day):
            return []
        shifts = self._shifts or [_Shift(day.weekday(), 0, 24 * 60)]
        # wall-clock minutes of the day, so a shift keeps its local times across DST
        return [
            (_local_minute(day, s.start, self.tz), _local_minute(day, s.end, self.tz))
            for s in shifts
            if s.weekday == day.weekday()
        ]

    def seconds_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working seconds from ``start`` to ``end`` (0 when ``end`` is not later): the time
        inside shifts, holidays left out. Without a spec every non-holiday second counts."""
        if end <= start:
            return 0.0
        first, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        total = 0.0
        day = first - dt.timedelta(days=1)  # a shift of the day before cannot run past 24:00
        while day <= last:
            for begin, finish in self._open_spans(day):
                overlap = (min(finish, end) - max(begin, start)).total_seconds()
                total += max(0.0, overlap)
            day += dt.timedelta(days=1)
        return total

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself when open, else the start of the next shift (aware, local zone)."""
        local = at.astimezone(self.tz)
        if self.is_open(at):
            return local
        for offset in range(MAX_CLOSED_DAYS):
            day = (local + dt.timedelta(days=offset)).date()
            if self.holiday(day):
                continue
            shifts = self._shifts or [_Shift(day.weekday(), 0, 24 * 60)]
            starts = sorted(s.start for s in shifts if s.weekday == day.weekday())
            for start in starts:
                candidate = dt.datetime.combine(
                    day, dt.time(start // 60, start % 60), tzinfo=self.tz
                )
                if candidate > local:
                    return candidate
        raise HoursError(f"business hours {self.spec!r} have no shift")


def _local_minute(day: dt.date, minute: int, tz: ZoneInfo) -> dt.datetime:
    """The instant (UTC) of a wall-clock minute of a local day (24:00: the next midnight)."""
    day += dt.timedelta(days=minute // (24 * 60))
    minute %= 24 * 60
    local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(dt.UTC)  # arithmetic between same-zone datetimes ignores DST
