"""Hourly rollups of the analytics events, folded in incrementally, and their reconciliation.

`roll_up` folds the events after the watermark into ``analytics_rollups`` (cells of three
views, see `VIEWS`) and advances the watermark in the same transaction: an event is counted
once, whichever process runs it and however often. Events are read in id order, and the
watermark never passes an event that is not committed yet:

- on PostgreSQL ids are handed out before commit, so a transaction may still commit id 10
  after id 11 is visible. Each round first takes ``SHARE`` on the events table for an instant
  (it waits for the inserts in flight, then lets the next ones go): every id up to the maximum
  read under it is committed or gone, and the round folds no further than that;
- on SQLite there is one writer at a time, so an uncommitted id is always above every id a
  reader sees.

`reconcile` recounts the events up to the watermark straight from ``analytics_events`` and
compares every cell with the rollups: they must be equal (values are summed in thousandths, as
integers, so incremental sums and a recount agree exactly).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.analytics.events import record
from storage.analytics.fcr import came_back, contacts
from storage.analytics.models import CELL, EVENTS, ROLLUPS, AnalyticsWatermark
from storage.db import Database
from storage.loops import every

__all__ = [
    "BATCH",
    "DEFAULT_FCR_DAYS",
    "DEFAULT_TIMEZONE",
    "VIEWS",
    "Cell",
    "Folder",
    "Reconciliation",
    "Sums",
    "bucket_of",
    "reconcile",
    "roll_up",
    "run_rollups",
    "watermark",
]

log = logging.getLogger(__name__)

BATCH = 5000  # events folded per transaction
QUARTER = 900  # seconds
WATERMARK = "rollups"
DEFAULT_TIMEZONE = "Europe/Kyiv"
DEFAULT_FCR_DAYS = 7
#: (view, period, kind, channel, language, intent, team, agent_id, reason, bucket)
Cell = tuple[str, dt.datetime, str, str, str, str, str, int, str, int]
Sums = list[int]  # [count, value in thousandths, business-hours value in thousandths]
#: The views, each as small as the summary allows, all per local day: ``d`` by kind, channel,
#: language, team, agent and reason (every kind); ``t`` the same without team and agent (what a
#: summary not filtered by team or agent reads: its size does not grow with the agents); ``h``
#: by channel, language, team, agent and the local hour of the day in ``bucket`` (incoming
#: messages: the hour-of-day chart); ``i`` with the intent and ``b`` with the bucket (only the
#: kinds that chart them).
VIEWS = ("d", "t", "h", "i", "b")
HOUR_KINDS = frozenset({"message.in"})
INTENT_KINDS = frozenset({"message.in", "conversation.started"})
BUCKET_KINDS = frozenset({"message.in", "csat.answered"})
_EVENT_COLUMNS = ("at", "kind", "channel", "language", "intent", "team", "agent_id", "reason")


def bucket_of(kind: str, value: float | None) -> int:
    """The histogram bucket of an event: an NLU confidence's tenth (0-9, -1 without NLU) for
    ``message.in``, the score for ``csat.answered``; 0 for every other kind."""
    if kind == "message.in":
        return -1 if value is None else min(9, max(0, int(value * 10)))
    if kind == "csat.answered" and value is not None:
        return int(value)
    return 0


def milli(value: float | None) -> int:
    return 0 if value is None else round(value * 1000)


def hour_of(at: dt.datetime) -> dt.datetime:
    at = at.astimezone(dt.UTC) if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    return at.replace(minute=0, second=0, microsecond=0)


class Folder:
    """Folds event rows into the cells of the views; days are local to ``timezone``."""

    def __init__(self, timezone: str = DEFAULT_TIMEZONE) -> None:
        self.zone = ZoneInfo(timezone)
        # quarter hour -> (the UTC start of its local day, its local hour of the day): every
        # zone's offset is a whole number of quarter hours, so one entry serves each event in it
        self._periods: dict[int, tuple[dt.datetime, int]] = {}

    def periods(self, at: dt.datetime) -> tuple[dt.datetime, int]:
        """The UTC instant at which the local day of ``at`` starts, and its local hour."""
        quarter = int(at.timestamp()) // QUARTER
        found = self._periods.get(quarter)
        if found is None:
            local = dt.datetime.fromtimestamp(quarter * QUARTER, dt.UTC).astimezone(self.zone)
            midnight = dt.datetime.combine(local.date(), dt.time(), tzinfo=self.zone)
            found = self._periods[quarter] = (midnight.astimezone(dt.UTC), local.hour)
        return found

    def cells(self, row: Any) -> list[Cell]:
        kind, channel, language = row.kind, row.channel or "", row.language or ""
        team, agent = row.team or "", int(row.agent_id or 0)
        day, hour = self.periods(row.at)
        reason = row.reason or ""
        cells: list[Cell] = [
            ("d", day, kind, channel, language, "", team, agent, reason, 0),
            ("t", day, kind, channel, language, "", "", 0, reason, 0),
        ]
        if kind in HOUR_KINDS:
            cells.append(("h", day, kind, channel, language, "", team, agent, "", hour))
        if kind in INTENT_KINDS:
            cells.append(("i", day, kind, channel, language, row.intent or "", team, agent, "", 0))
        if kind in BUCKET_KINDS:
            bucket = bucket_of(kind, row.value)
            cells.append(("b", day, kind, channel, language, "", team, agent, "", bucket))
        return cells

    def fold(self, rows: Iterable[Any], into: dict[Cell, Sums] | None = None) -> dict[Cell, Sums]:
        """Add event rows (the columns of `event_columns`) to their cells."""
        found: dict[Cell, Sums] = {} if into is None else into
        for row in rows:
            value, value_bh = milli(row.value), milli(row.value_bh)
            for cell in self.cells(row):
                sums = found.setdefault(cell, [0, 0, 0])
                sums[0] += 1
                sums[1] += value
                sums[2] += value_bh
        return found


def event_columns() -> list[Any]:
    c = EVENTS.c
    return [c.id, *(c[name] for name in _EVENT_COLUMNS), c.value, c.value_bh]


# ---- folding in -------------------------------------------------------------------------------


def watermark(s: Session, *, lock: bool = False) -> int:
    """The id of the last event in the rollups (0: none yet)."""
    stmt = select(AnalyticsWatermark.last_id).where(AnalyticsWatermark.name == WATERMARK)
    if lock:
        stmt = stmt.with_for_update()
    return int(s.scalar(stmt) or 0)


def _committed_up_to(s: Session) -> int:
    """The highest event id below which nothing can commit any more (see the module)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET LOCAL lock_timeout = '5s'"))
        s.execute(text("LOCK TABLE analytics_events IN SHARE MODE"))
    return int(s.scalar(select(func.max(EVENTS.c.id))) or 0)


def _fold_batch(
    s: Session, *, folder: Folder, limit: int, batch: int, days: int
) -> tuple[int, int]:
    """One transaction: fold the next events up to ``limit`` into the rollups, write the
    returns their first-contact resolution contacts make (`storage.analytics.fcr`, above
    ``limit``: the next pass folds them), move the watermark. Returns how many events were
    folded and how many returns were written."""
    start = watermark(s, lock=True)
    if start >= limit:
        return 0, 0
    rows = s.execute(
        select(*event_columns())
        .where(EVENTS.c.id > start, EVENTS.c.id <= limit)
        .order_by(EVENTS.c.id)
        .limit(batch)
    ).all()
    if rows:
        _increment(s, folder.fold(rows))
    end = rows[-1].id if len(rows) == batch else limit
    returns = came_back(s, *contacts(s, start, end, days))
    record(s, returns)
    s.execute(
        AnalyticsWatermark.__table__.update()  # type: ignore[attr-defined]
        .where(AnalyticsWatermark.name == WATERMARK)
        .values(last_id=end)
    )
    return len(rows), len(returns)


def _increment(s: Session, cells: dict[Cell, Sums]) -> None:
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(ROLLUPS)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(CELL),
        set_={
            "count": ROLLUPS.c.count + stmt.excluded.count,
            "value_milli": ROLLUPS.c.value_milli + stmt.excluded.value_milli,
            "value_bh_milli": ROLLUPS.c.value_bh_milli + stmt.excluded.value_bh_milli,
        },
    )
    rows = [
        {
            **dict(zip(CELL, cell, strict=True)),
            "count": sums[0],
            "value_milli": sums[1],
            "value_bh_milli": sums[2],
        }
        for cell, sums in sorted(cells.items())
    ]
    s.execute(stmt, rows)


async def roll_up(
    db: Database,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    batch: int = BATCH,
    fcr_days: int = DEFAULT_FCR_DAYS,
) -> int:
    """Fold every event committed so far into the rollups (days local to ``timezone``), with
    the ``fcr.came_back`` the folded contacts make (within ``fcr_days``); returns how many
    events were folded. Safe to run in several processes at once (the watermark row is locked
    per round)."""
    folder = Folder(timezone)
    total, passes, returns = 0, 0, 0
    while passes == 0 or (returns and passes == 1):
        # a second pass only for the returns the first wrote (above its limit); a return is
        # no contact, so none of its own is owed
        limit, passes = await db.run(_committed_up_to), passes + 1
        fold = functools.partial(
            _fold_batch, folder=folder, limit=limit, batch=batch, days=fcr_days
        )
        while True:
            folded, wrote = await db.run(fold)
            total, returns = total + folded, returns + wrote
            if folded < batch:
                break
    return total


async def run_rollups(
    db: Database,
    stop: asyncio.Event,
    interval: float,
    timezone: str = DEFAULT_TIMEZONE,
    fcr_days: int = DEFAULT_FCR_DAYS,
) -> None:
    """`roll_up` every ``interval`` seconds until ``stop`` is set (the app's periodic task)."""

    async def one_round() -> None:
        folded = await roll_up(db, timezone=timezone, fcr_days=fcr_days)
        if folded:
            log.debug("analytics: %d events folded into the rollups", folded)

    await every(interval, one_round, stop, name="analytics: folding events into the rollups")


# ---- reconciliation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Rollups against a recount of the events up to the watermark."""

    watermark: int
    events: int  # events recounted
    cells: int  # rollup cells compared
    mismatches: list[tuple[Cell, Sums | None, Sums | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _stored(s: Session) -> dict[Cell, Sums]:
    r = ROLLUPS.c
    rows = s.execute(
        select(*(r[name] for name in CELL), r.count, r.value_milli, r.value_bh_milli)
    ).all()
    stored: dict[Cell, Sums] = {}
    for row in rows:
        view, period, *dims, count, value, value_bh = row
        cell: Cell = (view, hour_of(period), *dims)
        stored[cell] = [int(count), int(value), int(value_bh)]
    return stored


def _reconcile(s: Session, folder: Folder) -> Reconciliation:
    for _ in range(10):
        mark = watermark(s)
        stored = _stored(s)
        recount: dict[Cell, Sums] = {}
        events = 0
        stmt = select(*event_columns()).where(EVENTS.c.id <= mark).order_by(EVENTS.c.id)
        for chunk in s.execute(stmt.execution_options(yield_per=BATCH)).partitions():
            folder.fold(chunk, recount)
            events += len(chunk)
        if watermark(s) == mark:  # no round folded in between: one consistent picture
            break
    stored = {cell: sums for cell, sums in stored.items() if sums != [0, 0, 0]}
    wrong = [
        (cell, stored.get(cell), recount.get(cell))
        for cell in sorted(set(stored) | set(recount))
        if stored.get(cell) != recount.get(cell)
    ]
    return Reconciliation(mark, events, len(stored), wrong)


async def reconcile(db: Database, *, timezone: str = DEFAULT_TIMEZONE) -> Reconciliation:
    """Recount the events up to the watermark and compare each cell with the rollups (days
    local to ``timezone``, as they were folded)."""
    folder = Folder(timezone)
    return await db.run(lambda s: _reconcile(s, folder), write=False, snapshot=True)
