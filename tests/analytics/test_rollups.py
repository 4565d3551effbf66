"""The events table and its rollups on SQLite and PostgreSQL: one row per (kind, key), rollups
folded by concurrent processes equal a recount, the watermark never passes an event whose
transaction is still open, an erasure changes no aggregate, and the summary is the same before
and after a rollup round."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import delete, func, select, text

from storage.analytics.events import Event, anonymise, record, record_async
from storage.analytics.models import EVENTS, ROLLUPS
from storage.analytics.rollups import reconcile, roll_up
from storage.analytics.summary import Query, summary
from storage.db import Database
from storage.models import Customer
from tests.fakes import wait_until

T0 = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in Kyiv
DAY = Query(first=dt.date(2026, 3, 10), last=dt.date(2026, 3, 10))


async def customer(db: Database) -> int:
    async with db.transaction() as s:
        row = Customer(display_name="Iryna")
        s.add(row)
        await s.flush()
        return row.id


def message(n: int, customer_id: int | None = None, confidence: float = 0.93) -> Event:
    return Event(
        kind="message.in",
        key=f"telegram:{n}",
        at=T0 + dt.timedelta(minutes=n),
        customer_id=customer_id,
        channel="telegram",
        language="uk",
        intent="ask_opening_hours",
        reason="bot",
        value=confidence,
    )


async def count(db: Database, table: str = "analytics_events") -> int:
    async with db.session() as s:
        return int(await s.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def test_an_event_is_stored_once_per_kind_and_key(db: Database) -> None:
    async with db.transaction() as s:
        await record_async(s, [message(1), message(1)])  # twice in one statement
    await db.run(lambda s: record(s, [message(1), message(2)]))  # and again later
    assert await count(db) == 2
    await roll_up(db)
    doc = await summary(db, DAY)
    assert doc["messages"]["in"] == 2


async def test_rollups_from_concurrent_rounds_equal_a_recount(db: Database) -> None:
    """Writers insert while three "processes" fold at the same time: every event is in the
    rollups exactly once."""
    stop = asyncio.Event()

    async def write(first: int) -> None:
        for n in range(first, first + 60, 3):
            async with db.transaction() as s:
                await record_async(s, [message(n, confidence=(n % 10) / 10)])
        stop.set()

    async def fold() -> None:
        while not stop.is_set():
            await roll_up(db, batch=7)
            await asyncio.sleep(0)

    await asyncio.gather(write(0), write(1), write(2), fold(), fold(), fold())
    await roll_up(db)
    result = await reconcile(db)
    assert result.ok, result.mismatches
    assert result.events == 60
    async with db.session() as s:
        total = await s.scalar(select(func.sum(ROLLUPS.c.count)).where(ROLLUPS.c.view == "h"))
    assert total == 60


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_the_watermark_waits_for_an_open_transaction(db: Database) -> None:
    """PostgreSQL hands out ids before commit: event 1 may commit after event 2. A round that
    starts while 1 is open waits for it instead of moving past it (it would never be counted)."""
    inserted, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        async with db.transaction() as s:
            await record_async(s, [message(1)])
            inserted.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    await inserted.wait()
    async with db.transaction() as s:
        await record_async(s, [message(2)])  # a later id, committed first
    folding = asyncio.create_task(roll_up(db))

    async def waiting_for_the_lock() -> bool:
        async with db.session() as s:
            waiting = await s.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted "
                    "AND relation = 'analytics_events'::regclass"
                )
            )
        return bool(waiting)

    await wait_until(waiting_for_the_lock, timeout=30, what="the round waiting for the writer")
    release.set()
    await writer
    assert await folding == 2
    assert (await reconcile(db)).ok


async def test_erasing_a_customer_changes_no_aggregate(db: Database) -> None:
    who = await customer(db)
    async with db.transaction() as s:
        await record_async(s, [message(n, who) for n in range(5)])
        await record_async(s, [message(n) for n in range(5, 8)])
    half = await summary(db, DAY)
    await roll_up(db)
    before = await summary(db, DAY)
    assert before == half and before["messages"]["in"] == 8
    async with db.transaction() as s:
        assert await anonymise(s, who) == 5
    assert await summary(db, DAY) == before
    async with db.transaction() as s:  # or the customer row goes: the key is SET NULL
        await s.execute(delete(Customer).where(Customer.id == who))
    assert await summary(db, DAY) == before
    assert (await reconcile(db)).ok
    async with db.session() as s:
        left = await s.scalar(select(func.count()).where(EVENTS.c.customer_id.is_not(None)))
    assert left == 0


async def test_the_summary_is_the_same_before_and_after_each_round(db: Database) -> None:
    async with db.transaction() as s:
        await record_async(s, [message(n, confidence=n / 20) for n in range(20)])
    expected = await summary(db, DAY)
    await roll_up(db, batch=5)  # all of it, five at a time
    async with db.transaction() as s:
        await record_async(s, [message(n) for n in range(20, 25)])
    doc = await summary(db, DAY)
    assert doc["messages"]["in"] == 25
    histogram = dict((b, n) for b, n in doc["nlu"]["confidence_histogram"])
    assert histogram[0.0] == 2 and histogram[0.9] == 5 + 2
    await roll_up(db)
    assert await summary(db, DAY) == doc
    assert expected["messages"]["in"] == 20


async def test_the_narrow_daily_view_gives_the_numbers_the_full_one_gives(db: Database) -> None:
    """A summary without a team or agent filter reads ``t``; the same range read through ``d``
    (the view a team filter reads) has the same totals, days and languages."""
    from storage.analytics.tally import Tally, _rollups

    events = [message(n) for n in range(6)]
    for n, (team, agent) in enumerate([("orders", 1), ("orders", 2), ("booking", 3)]):
        at = T0 + dt.timedelta(minutes=30 + n)
        common = {"channel": "viber", "language": "en", "team": team, "agent_id": agent}
        events.append(Event(kind="ticket.claimed", key=f"c{n}", at=at, **common))
        events.append(
            Event(kind="ticket.resolved", key=f"r{n}", at=at, value=60.0 * (n + 1), **common)
        )
    async with db.transaction() as s:
        await record_async(s, events)
    await roll_up(db)
    filters = DAY.filters()

    narrow, full = Tally(daily="t"), Tally(daily="d")
    await db.run(lambda s: _rollups(s, filters, narrow), write=False)
    await db.run(lambda s: _rollups(s, filters, full), write=False)
    assert narrow.totals and narrow.totals == full.totals
    assert narrow.by_day == full.by_day and narrow.by_language == full.by_language
    assert narrow.total("ticket.resolved") == [3, 360_000, 0]
    async with db.session() as s:
        rows = await s.execute(select(ROLLUPS.c.view, func.count()).group_by(ROLLUPS.c.view))
        views = {view: int(n) for view, n in rows}
    assert views["t"] < views["d"]  # three agents' cells are one per kind in `t`
    assert (await reconcile(db)).ok
