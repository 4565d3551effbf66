"""The SQLite query planner's statistics, kept fresh.

A database SQLite has never analysed has no statistics, and the planner guesses every table's
size and every index's selectivity. On a 1.26 GB embedded database that guess picked
``ix_proactive_jobs_status_due_at`` for one customer's pending jobs (84,000 rows read, 64 ms a
call, on every flow message); ``ANALYZE`` with ``PRAGMA analysis_limit=400`` (each index sampled,
not read whole: well under a second on that file) gave the planner the right index. So
`keep_fresh` analyses at start and then every hour, once the file is large enough for plans to
matter: statistics of a nearly empty file would tell the planner every table is tiny until the
next run. PostgreSQL keeps its own (autovacuum's ANALYZE); there it does nothing.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.orm import Session

from storage.db import Database
from storage.loops import every

__all__ = ["ANALYSIS_LIMIT", "MIN_PAGES", "keep_fresh", "refresh"]

log = logging.getLogger(__name__)

ANALYSIS_LIMIT = 400  # rows sampled per index
MIN_PAGES = 10_000  # 40 MB at SQLite's 4 KB pages


def refresh(s: Session, min_pages: int = MIN_PAGES) -> bool:
    """``ANALYZE`` (sampled) when the file has at least ``min_pages`` pages; whether it ran."""
    pages = int(s.execute(text("PRAGMA page_count")).scalar_one())
    if pages < min_pages:
        return False
    s.execute(text(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}"))
    s.execute(text("ANALYZE"))
    return True


async def keep_fresh(
    db: Database, stop: asyncio.Event, interval: float = 3600.0, min_pages: int = MIN_PAGES
) -> None:
    """`refresh` now and every ``interval`` seconds until ``stop`` (SQLite only). A failed run
    is logged and tried again next time: stale statistics slow queries, they break none."""
    if db.dialect != "sqlite":
        return

    async def one_round() -> None:
        if await db.run(lambda s: refresh(s, min_pages)):
            log.info("sqlite: planner statistics refreshed (ANALYZE, sampled)")

    await every(interval, one_round, stop, name="sqlite: refreshing the planner statistics")
