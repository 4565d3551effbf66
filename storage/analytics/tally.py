"""What the summary reads of the rollups and of the events after the watermark: a `Tally`, the
counts and sums of a date range seen from a few angles (totals by kind, channel and reason; the
series' kinds by day; by kind and language; messages by channel and local hour of the day; by
kind and intent; by kind and bucket), each read from its rollup view, grouped in SQL
(`storage.analytics.rollups.VIEWS`).

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

from storage.analytics.events import Event
from storage.analytics.fcr import pending
from storage.analytics.models import EVENTS, ROLLUPS
from storage.analytics.rollups import (
    DEFAULT_FCR_DAYS,
    Cell,
    Folder,
    Sums,
    event_columns,
    watermark,
)

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
        return [c[time_column] >= self.start, c[time_column] < self.end, *self.dimensions(table)]

    def dimensions(self, table: Table) -> list[ColumnElement[bool]]:
        """The filters without the time range."""
        c = table.c
        names = ("channel", "language", "team", "agent_id")
        return [c[name] == getattr(self, name) for name in names if getattr(self, name) is not None]

    def admit(self, event: Event) -> bool:
        """Does ``event`` (counted at its ``at``) fall in the range and the filters?"""
        if not self.start <= event.at < self.end:
            return False
        dims = ("channel", "language", "team", "agent_id")
        return all(getattr(self, n) in (None, getattr(event, n)) for n in dims)


Key = tuple[Any, ...]


#: The kinds whose daily counts make the series (the rest are read as range totals).
SERIES_KINDS = ("task.started", "task.ended", "conversation.started", "csat.answered")


@dataclass
class Tally:
    """Counts and sums of one range; each view maps its dimensions to [count, milli, bh milli]."""

    totals: dict[Key, Sums] = field(default_factory=dict)  # (kind, channel, reason)
    by_day: dict[Key, Sums] = field(default_factory=dict)  # (day, kind, reason): SERIES_KINDS
    by_language: dict[Key, Sums] = field(default_factory=dict)  # (kind, language)
    by_hour: dict[Key, Sums] = field(default_factory=dict)  # (channel, local hour): messages in
    by_intent: dict[Key, Sums] = field(default_factory=dict)  # (kind, intent)
    by_bucket: dict[Key, Sums] = field(default_factory=dict)  # (kind, bucket)
    #: the daily view read: ``t`` (no team or agent) unless the range is filtered by either
    daily: str = "d"

    @staticmethod
    def add(view: dict[Key, Sums], key: Key, sums: Iterable[int]) -> None:
        into = view.setdefault(key, [0, 0, 0])
        for i, n in enumerate(sums):
            into[i] += int(n)

    def add_cells(self, cells: dict[Cell, Sums]) -> None:
        """Add cells folded from events (`storage.analytics.rollups.Folder`)."""
        for cell, sums in cells.items():
            view, period, kind, channel, language, intent, _, _, reason, bucket = cell
            if view in ("d", "t"):
                if view != self.daily:
                    continue
                self.add(self.totals, (kind, channel, reason), sums)
                self.add(self.by_language, (kind, language), sums)
                if kind in SERIES_KINDS:
                    self.add(self.by_day, (period, kind, reason), sums)
            elif view == "h":
                self.add(self.by_hour, (channel, bucket), sums)
            elif view == "i":
                self.add(self.by_intent, (kind, intent), sums)
            else:
                self.add(self.by_bucket, (kind, bucket), sums)

    # ---- reading it -----------------------------------------------------------------------

    def count(self, kind: str, reason: str | None = None) -> int:
        return sum(
            s[0] for (k, _, r), s in self.totals.items() if k == kind and reason in (None, r)
        )

    def total(self, kind: str) -> Sums:
        out = [0, 0, 0]
        for (k, _, _), sums in self.totals.items():
            if k == kind:
                out = [a + b for a, b in zip(out, sums, strict=True)]
        return out

    def grouped(self, view: dict[Key, Sums], kind: str) -> dict[Any, int]:
        """Counts of ``kind`` by the view's second dimension (language, intent or bucket)."""
        out: dict[Any, int] = {}
        for (k, dim), s in view.items():
            if k == kind:
                out[dim] = out.get(dim, 0) + s[0]
        return out


def _rollups(s: Session, filters: Filters, tally: Tally) -> None:
    """Each angle of the range grouped by the database, so a few hundred rows come back whatever
    the range's size (the daily view's thousands of cells are summed where they lie, out of
    `ix_analytics_rollups_reads`, instead of being carried into Python and folded there)."""
    r = ROLLUPS.c
    where = filters.where(ROLLUPS, "period")
    sums = (func.sum(r.count), func.sum(r.value_milli), func.sum(r.value_bh_milli))
    views: list[tuple[str, dict[Key, Sums], tuple[Any, ...], tuple[Any, ...]]] = [
        (tally.daily, tally.totals, (r.kind, r.channel, r.reason), ()),
        (tally.daily, tally.by_language, (r.kind, r.language), ()),
        (tally.daily, tally.by_day, (r.period, r.kind, r.reason), (r.kind.in_(SERIES_KINDS),)),
        ("h", tally.by_hour, (r.channel, r.bucket), ()),
        ("i", tally.by_intent, (r.kind, r.intent), ()),
        ("b", tally.by_bucket, (r.kind, r.bucket), ()),
    ]
    for name, view, dims, only in views:
        stmt = select(*dims, *sums).where(r.view == name, *where, *only).group_by(*dims)
        for found in s.execute(stmt):
            tally.add(view, tuple(found[: len(dims)]), found[len(dims) :])


def _tail(
    s: Session, filters: Filters, folder: Folder, after: int, tally: Tally, fcr_days: int
) -> None:
    """The events after the watermark, and the returns their contacts make that the next
    round will write (`storage.analytics.fcr.pending`). The ids alone narrow the read, the time
    range is applied here: given a time range and the planner's statistics (`ANALYZE`, which
    `storage.planner_stats` keeps fresh), SQLite skip-scanned the first-contact index over every
    event in the range (140 ms at a million messages) for the few rows after the watermark."""
    where = (EVENTS.c.id > after, *filters.dimensions(EVENTS))
    rows = s.execute(select(*event_columns()).where(*where))
    tally.add_cells(folder.fold(r for r in rows if filters.start <= r.at < filters.end))
    tally.add_cells(folder.fold(e for e in pending(s, after, fcr_days) if filters.admit(e)))


def read_tally(
    s: Session, filters: Filters, timezone: str, fcr_days: int = DEFAULT_FCR_DAYS
) -> Tally:
    """The range's `Tally`: rollups plus the events after the watermark, one consistent read."""
    folder = Folder(timezone)
    for _ in range(READ_TRIES):
        mark = watermark(s)
        narrow = filters.team is None and filters.agent_id is None
        tally = Tally(daily="t" if narrow else "d")
        _rollups(s, filters, tally)
        _tail(s, filters, folder, mark, tally, fcr_days)
        if watermark(s) == mark:
            return tally
    raise RuntimeError("the rollups kept moving while the summary was read")
