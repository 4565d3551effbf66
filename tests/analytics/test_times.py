"""The response and resolution times of a range on SQLite and PostgreSQL: each database reads them
its own way (`storage.analytics.times`), and both give the same count, histogram, average and
nearest-rank percentiles (the value at rank ceil(p * n)), with values missing and kinds absent."""

from __future__ import annotations

import datetime as dt

from storage.analytics.events import Event, record
from storage.analytics.summary import Query, summary
from storage.analytics.times import read_times
from storage.db import Database

T0 = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in Kyiv
DAY = Query(first=dt.date(2026, 3, 10), last=dt.date(2026, 3, 10))
#: eleven first responses, in no order; the 11th has no business-hours value (outside them)
WALL = [600.0, 30.0, 7200.0, 45.0, 3600.0, 120.0, 90000.0, 1800.0, 240.0, 310.0, 899.5]
BUSINESS = [500.0, 30.0, 3600.0, 45.0, 3000.0, 100.0, 20000.0, 1700.0, 200.0, 300.0, None]


def response(n: int, wall: float | None, business: float | None, minutes: int = 0) -> Event:
    return Event(
        kind="agent.first_response",
        key=f"ticket:{n}",
        at=T0 + dt.timedelta(minutes=n + minutes),
        ticket_id=n,
        channel="telegram",
        language="uk",
        team="orders",
        agent_id=1,
        value=wall,
        value_bh=business,
    )


async def test_nearest_rank_percentiles_histogram_and_average_agree_on_both_databases(
    db: Database,
) -> None:
    async with db.transaction() as s:
        await s.run_sync(
            lambda sync: record(
                sync,
                [response(n, w, b) for n, (w, b) in enumerate(zip(WALL, BUSINESS, strict=True))],
            )
        )
        # a ticket without any value, and one the day after (outside the range)
        await s.run_sync(lambda sync: record(sync, [response(20, None, None)]))
        await s.run_sync(lambda sync: record(sync, [response(21, 5.0, 5.0, minutes=24 * 60)]))

    times = await db.run(lambda s: read_times(s, DAY.filters()), write=False)
    first = times["agent.first_response"]
    assert first["count"] == 12
    # sorted wall: 30 45 120 240 310 600 899.5 1800 3600 7200 90000 (n = 11)
    # p50: rank ceil(5.5) = 6 -> 600; p90: rank ceil(9.9) = 10 -> 7200
    assert first["wall"] == {"avg": round(sum(WALL) / 11, 3), "p50": 600.0, "p90": 7200.0}
    # sorted business (n = 10): 30 45 100 200 300 500 1700 3000 3600 20000 -> ranks 5 and 9
    known = [b for b in BUSINESS if b is not None]
    assert first["business"] == {"avg": round(sum(known) / 10, 3), "p50": 300.0, "p90": 3600.0}
    # buckets of the wall values: <=60, <=300, <=900, <=1800, <=3600, <=4h, <=8h, <=24h, longer
    assert first["histogram"] == [
        [60, 2], [300, 2], [900, 3], [1800, 1], [3600, 1],
        [4 * 3600, 1], [8 * 3600, 0], [24 * 3600, 0], [None, 1],
    ]  # fmt: skip
    assert times["ticket.resolved"] == {
        "count": 0,
        "wall": {"avg": None, "p50": None, "p90": None},
        "business": {"avg": None, "p50": None, "p90": None},
        "histogram": [[b, 0] for b in (60, 300, 900, 1800, 3600, 14400, 28800, 86400, None)],
    }
    # the summary answers the same, and a filter that matches nothing answers empty
    doc = await summary(db, DAY)
    assert doc["first_response"] == first
    other = await summary(db, Query(DAY.first, DAY.last, channel="viber"))
    assert other["first_response"]["count"] == 0
    assert other["first_response"]["wall"]["p50"] is None
