"""The response and resolution times of a range (`agent.first_response`, `ticket.resolved`):
for each, the count, a histogram, and the average and nearest-rank percentiles (the value at rank
ceil(p * n) in ascending order) of the wall-clock and business-hours seconds. Exact, read from
the events (one row per ticket) through `ix_analytics_events_reads`.

Each database does it its cheapest way, with the same answer:

- PostgreSQL in one aggregate per kind, ``percentile_disc`` being the nearest rank;
- SQLite has no ordered-set aggregate, and its sorts (an ``ORDER BY ... OFFSET`` per percentile,
  or window functions) cost more than the rows: the two columns of the range's tickets are read
  once, in one statement, and sorted here (a month of a million messages: ~15,000 tickets a kind).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.analytics.models import EVENTS, READS
from storage.analytics.tally import Filters

__all__ = ["HISTOGRAM", "TIME_KINDS", "read_times"]

TIME_KINDS = ("agent.first_response", "ticket.resolved")
HISTOGRAM = (60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600)  # upper bounds, seconds
PERCENTILES = (0.5, 0.9)


def read_times(s: Session, filters: Filters) -> dict[str, dict[str, Any]]:
    """``{kind: {"count", "wall", "business", "histogram"}}`` for both time kinds."""
    where = (READS, EVENTS.c.kind.in_(TIME_KINDS), *filters.where(EVENTS, "at"))
    read = _aggregated if s.get_bind().dialect.name == "postgresql" else _sorted_here
    found = read(s, where)
    empty = _shape(0, _column([]), _column([]), [0] * len(HISTOGRAM))
    return {kind: found.get(kind, empty) for kind in TIME_KINDS}


def _aggregated(s: Session, where: Sequence[Any]) -> dict[str, dict[str, Any]]:
    c = EVENTS.c

    def column(col: Any) -> tuple[Any, ...]:
        ranks = (func.percentile_disc(p).within_group(col) for p in PERCENTILES)
        return (func.count(col), func.sum(col), *ranks)

    below = [func.sum(case((c.value <= bound, 1), else_=0)) for bound in HISTOGRAM]
    width = 2 + len(PERCENTILES)
    stmt = select(c.kind, func.count(), *column(c.value), *column(c.value_bh), *below)
    out = {}
    for kind, total, *rest in s.execute(stmt.where(*where).group_by(c.kind)):
        wall, business, le = rest[:width], rest[width : 2 * width], rest[2 * width :]
        out[kind] = _shape(int(total), wall, business, [int(n or 0) for n in le])
    return out


def _sorted_here(s: Session, where: Sequence[Any]) -> dict[str, dict[str, Any]]:
    c = EVENTS.c
    values: dict[str, tuple[list[float], list[float], list[int]]] = {}
    for kind, wall, business in s.execute(select(c.kind, c.value, c.value_bh).where(*where)):
        into = values.setdefault(kind, ([], [], [0]))
        into[2][0] += 1
        if wall is not None:
            into[0].append(wall)
        if business is not None:
            into[1].append(business)
    out = {}
    for kind, (wall, business, (total,)) in values.items():
        wall.sort()
        business.sort()
        le = [bisect_right(wall, bound) for bound in HISTOGRAM]
        out[kind] = _shape(total, _column(wall), _column(business), le)
    return out


def _column(ascending: list[float]) -> tuple[Any, ...]:
    """(count, sum, *percentiles) of sorted values, as `_aggregated` reads them."""
    n = len(ascending)
    ranks = (ascending[max(0, math.ceil(p * n) - 1)] if n else None for p in PERCENTILES)
    return (n, math.fsum(ascending), *ranks)


def _shape(
    total: int, wall: Sequence[Any], business: Sequence[Any], le: list[int]
) -> dict[str, Any]:
    # [upper bound in seconds, how many] per bucket; the last bucket (None) is everything longer
    cumulative = [0, *le, int(wall[0] or 0)]
    bounds: list[int | None] = [*HISTOGRAM, None]
    histogram = [[b, cumulative[i + 1] - cumulative[i]] for i, b in enumerate(bounds)]
    return {
        "count": total,
        "wall": _stats(wall),
        "business": _stats(business),
        "histogram": histogram,
    }


def _stats(column: Sequence[Any]) -> dict[str, Any]:
    n, total, *ranks = column
    if not n:
        return {"avg": None, "p50": None, "p90": None}
    p50, p90 = (round(float(r), 3) for r in ranks)
    return {"avg": round(float(total) / int(n), 3), "p50": p50, "p90": p90}
