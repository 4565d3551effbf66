"""`omnirelay analytics reconcile [--roll-up]` and `omnirelay analytics roll-up`.

``reconcile`` recounts the events up to the rollups' watermark and compares every rollup cell
with the recount; it prints the result and exits 1 when a cell differs. With ``--roll-up`` it
folds in what is pending first (as the periodic task would), so the whole history is checked.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from storage.analytics.rollups import (
    DEFAULT_FCR_DAYS,
    DEFAULT_TIMEZONE,
    Reconciliation,
    reconcile,
    roll_up,
)
from storage.db import Database
from storage.errors import StorageError

__all__ = ["add_parser", "main"]

SHOWN = 20  # mismatching cells printed at most


def add_parser(sub: Any) -> None:
    """Register the `analytics` command on the `omnirelay` subparsers."""
    analytics = sub.add_parser("analytics", help="metrics: rollups and their reconciliation")
    actions = analytics.add_subparsers(dest="action", required=True)
    check = actions.add_parser("reconcile", help="rollups == a recount of the raw events?")
    check.add_argument("--roll-up", action="store_true", help="fold pending events in first")
    actions.add_parser("roll-up", help="fold the events not in the rollups yet into them")


def main(
    database_url: str,
    args: argparse.Namespace,
    timezone: str = DEFAULT_TIMEZONE,
    fcr_days: int = DEFAULT_FCR_DAYS,
) -> int:
    """Run `analytics reconcile` / `roll-up` against ``database_url`` (days local to
    ``timezone`` and returns within ``fcr_days``, as the service folds them:
    ``OMNIRELAY_TIMEZONE``, ``OMNIRELAY_ANALYTICS_FCR_DAYS``)."""
    try:
        return asyncio.run(_run(database_url, args, timezone, fcr_days))
    except StorageError as e:
        print(f"error: {e}")
        return 1


async def _run(url: str, args: argparse.Namespace, timezone: str, fcr_days: int) -> int:
    db = Database(url)
    try:
        if args.action == "roll-up" or getattr(args, "roll_up", False):
            folded = await roll_up(db, timezone=timezone, fcr_days=fcr_days)
            print(f"folded {folded} events into the rollups")
        if args.action == "roll-up":
            return 0
        result = await reconcile(db, timezone=timezone)
    finally:
        await db.dispose()
    print(report(result))
    return 0 if result.ok else 1


def report(result: Reconciliation) -> str:
    """What `reconcile` prints."""
    head = (
        f"watermark {result.watermark}: {result.events} events recounted, "
        f"{result.cells} rollup cells"
    )
    if result.ok:
        return f"{head}: rollups equal the recount"
    lines = [f"{head}: {len(result.mismatches)} cells differ (stored vs recount)"]
    for cell, stored, recount in result.mismatches[:SHOWN]:
        lines.append(
            f"  {cell[0]} {cell[1].isoformat()} {' '.join(map(str, cell[2:]))}: "
            f"{stored} vs {recount}"
        )
    return "\n".join(lines)
