"""CSV exports of a date range (`GET /api/metrics/export.csv`): one row per conversation, or one
per ticket, built from the same events as the summary (so the rows add up to its numbers).

A conversation belongs to the range by its ``conversation.started`` event, a ticket by its
``ticket.created``; everything that happened to either later is on its row. Times are local
(the business's time zone), durations in seconds, wall-clock and in business hours.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.analytics.models import EVENTS, READS
from storage.analytics.summary import Query
from storage.db import Database

__all__ = ["CONVERSATION_COLUMNS", "TICKET_COLUMNS", "export_csv"]

CHUNK = 500  # conversations or tickets per read

CONVERSATION_COLUMNS = (
    "conversation",
    "started_at",
    "channel",
    "language",
    "first_intent",
    "messages",
    "fallbacks",
    "tasks_started",
    "tasks_contained",
    "tasks_abandoned",
    "tasks_handed_off",
    "handoff_reasons",
    "continuations",
    "channels",
)
TICKET_COLUMNS = (
    "ticket",
    "created_at",
    "channel",
    "language",
    "team",
    "reason",
    "agent_id",
    "claimed_at",
    "wait_seconds",
    "wait_business_seconds",
    "first_response_at",
    "first_response_seconds",
    "first_response_business_seconds",
    "resolved_at",
    "resolution_seconds",
    "resolution_business_seconds",
    "csat_asked",
    "csat",
    "came_back",
)


def _anchors(s: Session, kind: str, query: Query, after_id: int) -> list[Any]:
    c = EVENTS.c
    filters = query.filters()
    return list(
        s.execute(
            select(c.id, c.key, c.at, c.channel, c.language, c.intent, c.team, c.reason)
            .where(READS, c.kind == kind, c.id > after_id, *filters.where(EVENTS, "at"))
            .order_by(c.id)
            .limit(CHUNK)
        ).all()
    )


def _local(at: dt.datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).isoformat(timespec="seconds") if at is not None else ""


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def _conversation_rows(s: Session, anchors: Sequence[Any], zone: ZoneInfo) -> list[list[Any]]:
    c = EVENTS.c
    keys = [a.key for a in anchors]
    found: dict[str, list[Any]] = {k: [] for k in keys}
    for row in s.execute(
        select(c.kind, c.conversation_key, c.channel, c.reason).where(c.conversation_key.in_(keys))
    ):
        found[row.conversation_key].append(row)
    out = []
    for a in anchors:
        events = found[a.key]
        ends = [e.reason or "" for e in events if e.kind == "task.ended"]
        causes = sorted({r.removeprefix("handoff:") for r in ends if r.startswith("handoff:")})
        channels = sorted({e.channel for e in events if e.kind == "message.in" and e.channel})
        out.append(
            [
                a.key,
                _local(a.at, zone),
                a.channel or "",
                a.language or "",
                a.intent or "",
                sum(1 for e in events if e.kind == "message.in"),
                sum(1 for e in events if e.kind == "fallback"),
                sum(1 for e in events if e.kind == "task.started"),
                ends.count("completed"),
                ends.count("abandoned"),
                sum(1 for r in ends if r.startswith("handoff:")),
                " ".join(causes),
                sum(1 for e in events if e.kind == "continuation"),
                " ".join(channels),
            ]
        )
    return out


def _ticket_rows(s: Session, anchors: Sequence[Any], zone: ZoneInfo) -> list[list[Any]]:
    c = EVENTS.c
    ids = [int(a.key) for a in anchors]
    found: dict[int, dict[str, Any]] = {i: {} for i in ids}
    for row in s.execute(
        select(c.kind, c.ticket_id, c.at, c.agent_id, c.value, c.value_bh)
        .where(c.ticket_id.in_(ids), c.kind != "ticket.created")
        .order_by(c.id)  # of a kind written more than once (ticket.assigned), the latest stays
    ):
        found[row.ticket_id][row.kind] = row
    return [_ticket_row(a, found[int(a.key)], zone) for a in anchors]


def _when(event: Any, zone: ZoneInfo) -> str:
    return _local(event.at, zone) if event is not None else ""


def _durations(event: Any) -> list[str]:
    if event is None:
        return ["", ""]
    return [_seconds(event.value), _seconds(event.value_bh)]


def _ticket_row(a: Any, events: dict[str, Any], zone: ZoneInfo) -> list[Any]:
    claimed = events.get("ticket.claimed")
    first = events.get("agent.first_response")
    resolved = events.get("ticket.resolved")
    answered = events.get("csat.answered")
    # the ticket's holder: at its close, else its latest assignment (none: back in a queue)
    holder = resolved or events.get("ticket.assigned") or first or claimed
    agent = holder.agent_id if holder is not None else None
    score = answered.value if answered is not None else None
    return [
        a.key,
        _local(a.at, zone),
        a.channel or "",
        a.language or "",
        a.team or "",
        a.reason or "",
        agent or "",
        _when(claimed, zone),
        *_durations(claimed),
        _when(first, zone),
        *_durations(first),
        _when(resolved, zone),
        *_durations(resolved),
        "yes" if "csat.asked" in events else "no",
        "" if score is None else f"{score:.0f}",
        "yes" if "fcr.came_back" in events else "no",
    ]


async def export_csv(db: Database, query: Query, kind: str) -> AsyncIterator[str]:
    """The CSV text of ``kind`` ("conversations" or "tickets") in chunks: the header first,
    then up to `CHUNK` rows at a time."""
    if kind not in ("conversations", "tickets"):
        raise ValueError("kind is conversations or tickets")
    zone = ZoneInfo(query.timezone)
    anchor = "conversation.started" if kind == "conversations" else "ticket.created"
    rows_of = _conversation_rows if kind == "conversations" else _ticket_rows
    yield _lines([CONVERSATION_COLUMNS if kind == "conversations" else TICKET_COLUMNS])
    after = 0
    while True:

        def chunk(s: Session, after: int = after) -> tuple[int, list[list[Any]]]:
            anchors = _anchors(s, anchor, query, after)
            return (anchors[-1].id if anchors else after), rows_of(s, anchors, zone)

        after, rows = await db.run(chunk, write=False, snapshot=True)
        if not rows:
            return
        yield _lines(rows)


def _lines(rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue()
