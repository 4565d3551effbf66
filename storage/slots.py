"""Time arithmetic of bookings: working hours to UTC intervals, slot starts, 15-minute cells.

Pure functions, no database. Working hours are wall-clock intervals in the staff member's time
zone; they are turned into UTC per calendar date with `zoneinfo`, so a day on which daylight
saving time starts or ends simply has one hour less or more of real time. Slots are then stepped
in real (UTC) time from the start of each interval.

A booking occupies every 15-minute UTC cell its ``[start, end)`` touches (`cells`); the
``booking_slots`` table holds one row per occupied cell, which is how double booking is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "CELL",
    "WEEKDAYS",
    "cells",
    "slot_starts",
    "within_working_hours",
    "working_intervals",
]

CELL = dt.timedelta(minutes=15)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _parse_hhmm(value: str) -> dt.time:
    hours, minutes = value.split(":")
    if hours == "24" and minutes == "00":
        return dt.time.max
    return dt.time(int(hours), int(minutes))


def working_intervals(
    hours: Mapping[str, Any], timezone: str, day: dt.date
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The staff member's working intervals on local calendar ``day``, as aware UTC pairs.

    ``hours`` maps "mon".."sun" to lists of ``["HH:MM", "HH:MM"]`` (``"24:00"`` ends a day).
    A wall time skipped by a DST change is read with the offset in force before it.
    """
    tz = ZoneInfo(timezone)
    out: list[tuple[dt.datetime, dt.datetime]] = []
    for start_s, end_s in hours.get(WEEKDAYS[day.weekday()], []) or []:
        start_t, end_t = _parse_hhmm(str(start_s)), _parse_hhmm(str(end_s))
        start = dt.datetime.combine(day, start_t, tzinfo=tz)
        if end_t == dt.time.max:
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        else:
            end = dt.datetime.combine(day, end_t, tzinfo=tz)
        start_utc, end_utc = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        if end_utc > start_utc:
            out.append((start_utc, end_utc))
    return sorted(out)


def slot_starts(
    intervals: list[tuple[dt.datetime, dt.datetime]],
    duration: dt.timedelta,
    step: dt.timedelta,
) -> Iterator[dt.datetime]:
    """Every start, ``step`` apart from each interval's start, at which ``duration`` fits."""
    for start, end in intervals:
        at = start
        while at + duration <= end:
            yield at
            at += step


def within_working_hours(
    hours: Mapping[str, Any], timezone: str, start: dt.datetime, end: dt.datetime
) -> bool:
    """Whether ``[start, end)`` lies inside one working interval (on the local start date)."""
    local_day = start.astimezone(ZoneInfo(timezone)).date()
    for day in (local_day - dt.timedelta(days=1), local_day):
        for lo, hi in working_intervals(hours, timezone, day):
            if lo <= start and end <= hi:
                return True
    return False


def _floor(at: dt.datetime) -> dt.datetime:
    return _EPOCH + CELL * ((at - _EPOCH) // CELL)


def cells(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The 15-minute UTC cells that ``[start, end)`` touches (start of each cell)."""
    if end <= start:
        raise ValueError("a booking must end after it starts")
    out = []
    at = _floor(start.astimezone(dt.UTC))
    while at < end:
        out.append(at)
        at += CELL
    return out
