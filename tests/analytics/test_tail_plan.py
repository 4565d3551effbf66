"""The events after the rollups' watermark (the summary's live tail, the first-contact contacts)
are found by their ids alone, and the range and filters are applied to those few rows.

Given a time range and the planner statistics that `storage.planner_stats` keeps (ANALYZE),
SQLite planned the tail read as a skip-scan of the first-contact index over every event of the
range: 140 ms of a 220 ms `GET /api/metrics/summary` at a million messages, where the direct
summary (no statistics) read 2 rows by id. The statistics below are those ANALYZE wrote for that
database; the test loads them into a small one and reads the plans of the statements."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from storage.analytics.events import Event, record_async
from storage.analytics.rollups import roll_up
from storage.analytics.summary import Query, summary
from storage.db import Database

DAY = dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC)
QUERY = Query(dt.date(2026, 11, 10), dt.date(2026, 11, 10), channel="telegram")  # Kyiv days

#: sqlite_stat1 of the analytics benchmark's database (1,389,630 events, ANALYZE sampled)
STATS = {
    "ix_analytics_events_reads": "82656 401 1 1 1 1 1 1 1 1 1 1 1 1",
    "ix_analytics_events_customer_id_kind_at": "914112 401 401 1",
    "ix_analytics_events_ticket_id": "96607 6",
    "ix_analytics_events_conversation_key": "1569400 15",
    "sqlite_autoindex_analytics_events_1": "925470 401 1",
}


def message(n: int, at: dt.datetime, channel: str = "telegram") -> list[Event]:
    key = f"{at:%Y%m%dT%H%M%SZ}:{channel}:{n}"
    return [
        Event("message.in", key, at, channel=channel, conversation_key=f"c{n}", reason="bot"),
        Event("task.started", f"{key}:0:booking", at, customer_id=None, channel=channel),
    ]


async def write(db: Database, events: list[Event]) -> None:
    async with db.transaction() as s:
        await record_async(s, events)


async def test_the_tail_counts_only_its_range_and_filters(db: Database) -> None:
    await write(db, message(1, DAY))
    await roll_up(db)
    # after the watermark: one in the range, one a day later, one on another channel
    await write(db, message(2, DAY + dt.timedelta(hours=1)))
    await write(db, message(3, DAY + dt.timedelta(days=1)))
    await write(db, message(4, DAY + dt.timedelta(hours=2), channel="viber"))
    doc = await summary(db, QUERY)
    assert doc["messages"]["in"] == 2
    assert doc["messages"]["by_channel"] == {"telegram": 2}
    await roll_up(db)
    assert (await summary(db, QUERY))["messages"] == doc["messages"]  # folded: the same


async def test_the_reads_after_the_watermark_go_by_id_under_big_statistics(
    database_url: str,
) -> None:
    if not database_url.startswith("sqlite"):
        return  # PostgreSQL's planner reads the end of the id index (its own statistics)
    db = Database(database_url)
    for n in range(5):
        await write(db, message(n, DAY + dt.timedelta(minutes=n)))
    await roll_up(db)
    await write(db, message(9, DAY + dt.timedelta(hours=3)))

    def load_stats(s: Any) -> None:
        s.execute(text("ANALYZE"))  # creates sqlite_stat1
        s.execute(text("DELETE FROM sqlite_stat1"))
        for index, stat in STATS.items():
            s.execute(
                text("INSERT INTO sqlite_stat1 VALUES ('analytics_events', :i, :s)"),
                {"i": index, "s": stat},
            )
        s.execute(text("ANALYZE sqlite_master"))  # the planner reloads the statistics

    await db.run(load_stats)
    await db.dispose()
    db = Database(database_url)  # its connections read the new statistics
    reads: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "analytics_events.id >" in statement:
            reads.append((statement, params))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        doc = await summary(db, QUERY)
        event.remove(Engine, "before_cursor_execute", capture)
        assert doc["messages"]["in"] == 6
        assert len(reads) == 2, reads  # the tail and its first-contact contacts
        for statement, params in reads:
            plan = await db.run(
                lambda s, st=statement, p=params: (
                    s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + st, tuple(p)).all()
                ),
                write=False,
            )
            assert "INTEGER PRIMARY KEY" in str(plan), (statement, plan)
    finally:
        if event.contains(Engine, "before_cursor_execute", capture):
            event.remove(Engine, "before_cursor_execute", capture)
        await db.dispose()
