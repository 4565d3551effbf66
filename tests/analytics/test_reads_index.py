"""The summary's covering index holds only the kinds read by kind and time (migration 0016):
its definition carries the predicate on both databases, the summary and the CSV still find every
row, and on SQLite (whose planner takes a partial index only when the query says the index's
own terms) each of those reads goes through it; filtered by channel, language, team or agent
(migration 0019) too, without a look-up of the table's rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from storage.analytics.events import Event, record_async
from storage.analytics.export import export_csv
from storage.analytics.models import READ_KINDS, READS
from storage.analytics.summary import Query, summary
from storage.db import Database

AT = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)
QUERY = Query(dt.date(2026, 3, 9), dt.date(2026, 3, 11), timezone="UTC")


async def seed(db: Database) -> None:
    events = [
        Event("message.in", "m1", AT, channel="rest", conversation_key="c1", reason="bot"),
        Event("fallback", "m1", AT, channel="rest", conversation_key="c1", text="blah blah"),
        Event("conversation.started", "c1", AT, channel="rest", conversation_key="c1"),
        Event("task.started", "m1:0:booking", AT, channel="rest", conversation_key="c1"),
        Event("ticket.created", "7", AT, ticket_id=7, channel="rest", team="general"),
        Event("agent.first_response", "7", AT, ticket_id=7, value=30.0, value_bh=30.0),
        Event("ticket.resolved", "7", AT, ticket_id=7, value=600.0, value_bh=600.0),
    ]
    async with db.transaction() as s:
        await record_async(s, events)


async def index_definition(db: Database) -> str:
    if db.dialect == "sqlite":
        sql = "SELECT sql FROM sqlite_master WHERE name = 'ix_analytics_events_reads'"
    else:
        sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_analytics_events_reads'"
    return str(await db.run(lambda s: s.scalar(text(sql)), write=False))


async def test_the_reads_find_every_row_through_the_partial_index(db: Database) -> None:
    await seed(db)
    definition = await index_definition(db)
    assert "WHERE" in definition.upper()
    assert all(kind in definition for kind in READ_KINDS)
    assert "message.in" not in definition and "task.started" not in definition

    reads: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if str(READS) in statement:
            reads.append((statement, params))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        doc = await summary(db, QUERY)
        csv = "".join([chunk async for chunk in export_csv(db, QUERY, "tickets")])
        csv += "".join([chunk async for chunk in export_csv(db, QUERY, "conversations")])
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert doc["top_fallbacks"] == [["blah blah", 1]]
    assert doc["first_response"]["count"] == 1 and doc["resolution"]["count"] == 1
    assert "\n7," in csv and "\nc1," in csv  # each CSV found its anchor
    # the times, the fallback phrases, and each CSV's anchors twice (a chunk, then none left)
    assert len(reads) == 6
    if db.dialect != "sqlite":
        return
    for statement, params in reads:
        plan = await db.run(
            lambda s, st=statement, p=params: (
                s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + st, tuple(p)).all()
            ),
            write=False,
        )
        assert any("ix_analytics_events_reads" in str(row) for row in plan), (statement, plan)


async def test_filtered_reads_come_out_of_the_index_alone(db: Database) -> None:
    await seed(db)
    definition = await index_definition(db)
    for column in ("channel", "language", "team", "agent_id"):
        assert column in definition, definition
    filtered = Query(QUERY.first, QUERY.last, "UTC", channel="rest", language="uk", team="x")
    reads: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if str(READS) in statement:
            reads.append((statement, params))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        doc = await summary(db, filtered)
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    unfiltered = await summary(db, Query(QUERY.first, QUERY.last, "UTC", channel="rest"))
    assert doc["top_fallbacks"] == [] and doc["first_response"]["count"] == 0
    assert unfiltered["top_fallbacks"] == [["blah blah", 1]]
    assert len(reads) == 2
    if db.dialect != "sqlite":
        return
    for statement, params in reads:
        plan = await db.run(
            lambda s, st=statement, p=params: (
                s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + st, tuple(p)).all()
            ),
            write=False,
        )
        assert any("COVERING INDEX ix_analytics_events_reads" in str(row) for row in plan), plan
