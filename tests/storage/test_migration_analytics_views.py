"""Migration 0013 on SQLite and PostgreSQL: rollups folded before it get their ``t`` view from
``d`` (the daily cells summed over team and agent), so the summary reads the same numbers."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import text

from storage.analytics.events import Event, record_async
from storage.analytics.rollups import reconcile, roll_up
from storage.analytics.summary import Query, summary
from storage.db import Database, alembic_config, upgrade

T0 = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)


async def test_0013_fills_the_narrow_view_from_the_daily_one(empty_database_url: str) -> None:
    from alembic import command

    await asyncio.to_thread(upgrade, empty_database_url)
    db = Database(empty_database_url)
    try:
        events = [
            Event(
                kind="ticket.resolved",
                key=f"r{n}",
                at=T0 + dt.timedelta(minutes=n),
                channel="telegram",
                language="uk",
                team=("orders", "booking")[n % 2],
                agent_id=n % 3 + 1,
                reason="closed",
                value=30.0 * n,
            )
            for n in range(9)
        ]
        async with db.transaction() as s:
            await record_async(s, events)
        await roll_up(db)
        day = Query(first=dt.date(2026, 3, 10), last=dt.date(2026, 3, 10))
        before = await summary(db, day)
        await db.dispose()
        await asyncio.to_thread(command.downgrade, alembic_config(empty_database_url), "0012")
        db = Database(empty_database_url)
        assert await narrow_cells(db) == 0  # as a database folded before 0013 has it
        await db.dispose()
        await asyncio.to_thread(upgrade, empty_database_url)
        db = Database(empty_database_url)
        assert await narrow_cells(db) == 1  # nine tickets of two teams and three agents
        assert await summary(db, day) == before
        assert before["tickets"]["resolved"] == 9
        assert (await reconcile(db)).ok
    finally:
        await db.dispose()


async def narrow_cells(db: Database) -> int:
    async with db.session() as s:
        found = await s.scalar(text("SELECT count(*) FROM analytics_rollups WHERE view = 't'"))
    return int(found or 0)
