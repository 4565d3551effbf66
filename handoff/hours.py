"""Business hours of the agent team: ``"mon-fri 09:00-18:00; sat 10:00-14:00"`` in a time zone.

An empty spec means people are always there. Outside the hours the customer is told when the
next shift starts, and the ticket waits in its queue.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

__all__ = ["BusinessHours", "HoursError"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
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


class BusinessHours:
    """When agents work, as local weekday shifts."""

    def __init__(self, spec: str, timezone: str = "Europe/Kyiv") -> None:
        self.spec = spec.strip()
        self.tz = ZoneInfo(timezone)
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
        return not self._shifts

    def is_open(self, at: dt.datetime) -> bool:
        if self.always:
            return True
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return any(s.weekday == local.weekday() and s.start <= minute < s.end for s in self._shifts)

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself when open, else the start of the next shift (aware, local zone)."""
        local = at.astimezone(self.tz)
        if self.is_open(at):
            return local
        for offset in range(8):
            day = (local + dt.timedelta(days=offset)).date()
            starts = sorted(s.start for s in self._shifts if s.weekday == day.weekday())
            for start in starts:
                candidate = dt.datetime.combine(
                    day, dt.time(start // 60, start % 60), tzinfo=self.tz
                )
                if candidate > local:
                    return candidate
        raise HoursError(f"business hours {self.spec!r} have no shift")
