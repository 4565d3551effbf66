"""The CSV export reads its anchors chunk by chunk in (time, id) order from the covering index:
every conversation and ticket exactly once, in time order, however many share one instant and
whatever order they were written in."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

import storage.analytics.export as export
from storage.analytics.events import Event, record_async
from storage.analytics.summary import Query
from storage.db import Database

NOON = dt.datetime(2026, 11, 10, 10, 0, tzinfo=dt.UTC)
QUERY = Query(dt.date(2026, 11, 9), dt.date(2026, 11, 11))


def started(n: int, at: dt.datetime) -> list[Event]:
    key = f"{at:%Y%m%dT%H%M%SZ}:rest:{n}"
    return [
        Event("conversation.started", key, at, channel="rest", conversation_key=key),
        Event("message.in", key, at, channel="rest", conversation_key=key, reason="bot"),
    ]


@pytest.mark.parametrize("chunk", [1, 2, 3, 500])
async def test_every_conversation_once_in_time_order(
    db: Database, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(export, "CHUNK", chunk)
    # written out of time order; five at one instant (more than a chunk), one outside the range
    times = [NOON + dt.timedelta(minutes=m) for m in (30, 0, 0, 0, 0, 0, -90, 5, 0)]
    times.append(NOON + dt.timedelta(days=3))
    async with db.transaction() as s:
        for n, at in enumerate(times):
            await record_async(s, started(n, at))
    text = "".join([c async for c in export.export_csv(db, QUERY, "conversations")])
    rows = list(csv.DictReader(io.StringIO(text)))
    keys = [r["conversation"] for r in rows]
    assert len(keys) == len(set(keys)) == len(times) - 1
    expected = sorted((at, n) for n, at in enumerate(times[:-1]))
    assert keys == [f"{at:%Y%m%dT%H%M%SZ}:rest:{n}" for at, n in expected]
    assert all(r["messages"] == "1" for r in rows)
