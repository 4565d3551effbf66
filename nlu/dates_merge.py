"""One moment said in two pieces: a part of the day and the clock time ("завтра зранку, десь о
10", "в середу після обіду о 4", "tmrw morning, around 10"), or a weekday and the date ("у
вівторок 15 грудня об 11"). `nlu.dates.extract_dates` finds the pieces apart; the trial saw a
booking take the first one (09:00 for "зранку ... о 10", 14:00 for "після обіду ... о 16", and
Tuesday the 8th for "вівторок 15 грудня", a week early). `merge` joins each such pair into one
match: the day of the first piece, the clock time of the second (in the afternoon when the part
of the day is after noon); the date that names the day of the month over the weekday. What a
piece is, `nlu.dates` tells (`Pieces`), with its own grammar.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import TypeVar

__all__ = ["Pieces", "merge"]

M = TypeVar("M")

# Words between the two pieces: commas, "десь", "around"... ("завтра зранку, десь о 10")
_FILLER = re.compile(
    r"[\s,]*(?:(?:десь|приблизно|близько|так|ну|around|about|smth|something|like|approx\.?|"
    r"maybe|at|о|об|на)\s*,?\s*)*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Pieces:
    """What a matched piece of text says: only a clock time ("о 10"); a part of the day at its
    end (its time: "завтра зранку" -> 09:00); only a weekday ("у вівторок")."""

    clock_only: Callable[[str], bool]
    part_of_day: Callable[[str], time | None]
    weekday_only: Callable[[str], bool]


def merge(
    text: str,
    found: Sequence[M],
    span: Callable[[M], tuple[int, int, str]],
    make: Callable[[int, int, str], M],
    pieces: Pieces,
) -> list[M]:
    """``found`` (in text order) with each pair of pieces of one moment joined. ``span`` gives
    a match's (start, end, ISO value), ``make`` builds one."""
    out: list[M] = []
    for m in found:
        if out:
            joined = _join(text, span(out[-1]), span(m), pieces)
            if joined is not None:
                out[-1] = make(*joined)
                continue
        out.append(m)
    return out


def _join(
    text: str, first: tuple[int, int, str], second: tuple[int, int, str], pieces: Pieces
) -> tuple[int, int, str] | None:
    (s1, e1, v1), (s2, e2, v2) = first, second
    if s2 < e1 or _FILLER.fullmatch(text[e1:s2]) is None:
        return None
    piece1, piece2 = text[s1:e1].strip(), text[s2:e2]
    part = pieces.part_of_day(piece1)
    if part is not None and "T" in v1 and "T" in v2 and pieces.clock_only(piece2):
        clock = datetime.fromisoformat(v2)
        hour = clock.hour + 12 if clock.hour < 12 and part.hour >= 12 else clock.hour
        joined = datetime.fromisoformat(v1).replace(hour=hour, minute=clock.minute)
        return s1, e2, joined.isoformat()
    if pieces.weekday_only(piece1) and "T" not in v1 and v1 != v2[:10]:
        return s1, e2, v2  # "у вівторок 15 грудня": the date says which Tuesday
    return None
