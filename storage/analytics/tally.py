"""What the summary reads of the rollups and of the events after the watermark: a `Tally`, the
counts and sums of a date range seen from a few angles (by hour, kind, channel and reason; by
kind and language; by kind and intent; by kind and bucket).

Every count is `rollups (events up to the watermark) + the events after it, folded the same
way`, read as one consistent picture: the watermark is read before and after, and the read is
repeated if a rollup round moved it meanwhile. So the numbers are live (nothing waits for the
next round) and exact (no event is counted twice or missed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.orm import Session

from storage.analytics.models import EVENTS, ROLLUPS
from storage.analytics.rollups import Cell, Sums, event_columns, fold, watermark

__all__ = ["Filters", "Tally", "read_tally"]

READ_TRIES = 10


@dataclass(frozen=True, slots=True)
class Filters:
    """A UTC time range [start, end) and the optional dimension filters."""

    start: dt.datetime
    end: dt.datetime
    channel: str | None = None
    language: str | None = None
    team: str | None = None
    agent_id: int | None = None

    def where(self, table: Table, time_column: str) -> list[ColumnElement[bool]]:
        c = table.c
        clauses = [c[time_column] >= self.start, c[time_column] < self.end]
        for name in ("channel", "language", "team", "agent_id"):
            value = getattr(self, name)
            if value is not None:
                clauses.append(c[name] == value)
        return clauses


Key = tuple[Any, ...]


@dataclass
class Tally:
    """Counts and sums of one range; each view maps its dimensions to [count, milli, bh milli]."""

    by_hour: dict[Key, Sums] = field(default_factory=dict)  # (hour, kind, channel, reason)
    by_language: dict[Key, Sums] = field(default_factory=dict)  # (kind, language)
    by_intent: dict[Key, Sums] = field(default_factory=dict)  # (kind, intent)
    by_bucket: dict[Key, Sums] = field(default_factory=dict)  # (kind, bucket)

    def add(self, view: dict[Key, Sums], key: Key, sums: Iterable[int]) -> None:
        into = view.setdefault(key, [0, 0, 0])
        for i, n in enumerate(sums):
            into[i] += int(n)

    def add_cells(self, cells: dict[Cell, Sums]) -> None:
        for (hour, kind, channel, language, intent, _, _, reason, bucket), sums in cells.items():
            self.add(self.by_hour, (hour, kind, channel, reason), sums)
            self.add(self.by_language, (kind, language), sums)
            self.add(self.by_intent, (kind, intent), sums)
            self.add(self.by_bucket, (kind, bucket), sums)

    # ---- reading it -----------------------------------------------------------------------

    def count(self, kind: str, reason: str | None = None) -> int:
        return sum(
            s[0]
            for (_, k, _, r), s in self.by_hour.items()
            if k == kind and (reason is None or r == reason)
        )

    def total(self, kind: str) -> Sums:
        out = [0, 0, 0]
        for (_, k, _, _), s in self.by_hour.items():
            if k == kind:
                out = [a + b for a, b in zip(out, s, strict=True)]
        return out

    def grouped(self, view: dict[Key, Sums], kind: str) -> dict[Any, int]:
        """Counts of ``kind`` by the view's second dimension (language, intent or bucket)."""
        out: dict[Any, int] = {}
        for (k, dim), s in view.items():
            if k == kind:
                out[dim] = out.get(dim, 0) + s[0]
        return out


def _rollups(s: Session, filters: Filters, tally: Tally) -> None:
    r = ROLLUPS.c
    where = filters.where(ROLLUPS, "hour")
    sums = (func.sum(r.count), func.sum(r.value_milli), func.sum(r.value_bh_milli))
    views: list[tuple[dict[Key, Sums], tuple[Any, ...]]] = [
        (tally.by_hour, (r.hour, r.kind, r.channel, r.reason)),
        (tally.by_language, (r.kind, r.language)),
        (tally.by_intent, (r.kind, r.intent)),
        (tally.by_bucket, (r.kind, r.bucket)),
    ]
    for view, dims in views:
        for row in s.execute(select(*dims, *sums).where(*where).group_by(*dims)):
            key = tuple(row[: len(dims)])
            if view is tally.by_hour:
                key = (key[0].replace(tzinfo=dt.UTC) if key[0].tzinfo is None else key[0], *key[1:])
            tally.add(view, key, row[len(dims) :])


def _tail(s: Session, filters: Filters, after: int, tally: Tally) -> None:
    rows = s.execute(
        select(*event_columns()).where(EVENTS.c.id > after, *filters.where(EVENTS, "at"))
    )
    tally.add_cells(fold(rows))


def read_tally(s: Session, filters: Filters) -> Tally:
    """The range's `Tally`: rollups plus the events after the watermark, one consistent read."""
    for _ in range(READ_TRIES):
        mark = watermark(s)
        tally = Tally()
        _rollups(s, filters, tally)
        _tail(s, filters, mark, tally)
        if watermark(s) == mark:
            return tally
    raise RuntimeError("the rollups kept moving while the summary was read")
