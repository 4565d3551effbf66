"""One moment said in two pieces: a part of the day and the clock time ("завтра зранку, десь о
10", "в середу після обіду о 4", "tmrw morning, around 10"), or a weekday and the date ("у
вівторок 15 грудня об 11"). `nlu.dates.extract_dates` finds the pieces apart; the trial saw a
booking take the first one (09:00 for "зранку ... о 10", 14:00 for "після обіду ... о 16", and
Tuesday the 8th for "вівторок 15 грудня", a week early). `merge` joins each such pair into one
match: the day of the first piece, the clock time of the second (in the afternoon when the part
of the day says so); the date that names the day of the month over the weekday.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import TypeVar

__all__ = ["merge"]

M = TypeVar("M")

# Words between the two pieces: commas, "десь", "around"... ("завтра зранку, десь о 10")
_FILLER = re.compile(
    r"[\s,]*(?:(?:десь|приблизно|близько|так|ну|around|about|smth|something|like|approx\.?|"
    r"maybe|at|о|об|на)\s*,?\s*)*",
    re.IGNORECASE,
)
_PART_OF_DAY = re.compile(
    r"(?:morning|зранку|вранці|зрання|ранком|з ранку|afternoon|після обіду|по обіді|evening|"
    r"tonight|ввечері|увечері|вечором|ввечорі)$",
    re.IGNORECASE,
)
_AFTERNOON = re.compile(
    r"afternoon|після обіду|по обіді|evening|tonight|ввечері|увечері|вечор", re.I
)
_WEEKDAY_ONLY = re.compile(
    r"(?:(?:next|this|on|наступн\w*|цього|цей|цю|у|в)\s+)?"
    r"(?:mon|tue|wed|thu|fri|sat|sun|понеділ|вівтор|серед|четвер|п.?ятниц|субот|неділ)\w*",
    re.IGNORECASE,
)


def _moment(value: str) -> tuple[date, time | None, datetime | None]:
    if "T" not in value:
        return date.fromisoformat(value), None, None
    moment = datetime.fromisoformat(value)
    return moment.date(), moment.time(), moment


def merge(
    text: str,
    found: Sequence[M],
    span: Callable[[M], tuple[int, int, str]],
    make: Callable[[int, int, str], M],
    clock_only: Callable[[str], bool],
) -> list[M]:
    """``found`` (in text order) with each pair of pieces of one moment joined. ``span`` gives
    a match's (start, end, ISO value), ``make`` builds one; ``clock_only`` tells a match's text
    names only a clock time (no day, no part of the day)."""
    out: list[M] = []
    for m in found:
        if out:
            joined = _join(text, span(out[-1]), span(m), clock_only)
            if joined is not None:
                out[-1] = make(*joined)
                continue
        out.append(m)
    return out


def _join(
    text: str,
    first: tuple[int, int, str],
    second: tuple[int, int, str],
    clock_only: Callable[[str], bool],
) -> tuple[int, int, str] | None:
    (s1, e1, v1), (s2, e2, v2) = first, second
    gap = text[e1:s2]
    if s2 < e1 or _FILLER.fullmatch(gap) is None:
        return None
    piece1, piece2 = text[s1:e1].strip(), text[s2:e2]
    day1, at1, moment1 = _moment(v1)
    day2, at2, moment2 = _moment(v2)
    if _PART_OF_DAY.search(piece1) and at1 is not None and at2 is not None and clock_only(piece2):
        assert moment1 is not None
        hour = at2.hour
        if hour < 12 and _AFTERNOON.search(piece1):
            hour += 12
        joined = moment1.replace(hour=hour, minute=at2.minute)
        return s1, e2, joined.isoformat()
    if _WEEKDAY_ONLY.fullmatch(piece1) and at1 is None and day2 != day1:
        # "у вівторок 15 грудня": the date says which Tuesday
        return s1, e2, v2 if moment2 is None else moment2.isoformat()
    return None
