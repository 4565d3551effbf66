"""Retention: each data class is cleared once it is older than its configured age.

`retention_run` counts (dry run) or clears what is due at the bot clock's "now" (the stores and
what clearing means for each are in `storage.repositories.retention`; the NLU review list, a
JSONL file, loses its old lines here); `run_retention` is the periodic task that `omnirelay
run` and `omnirelay worker` start: in each round one process, whichever takes the lease in the
database, runs it. `omnirelay privacy retention [--dry-run]` runs it once from the shell. Every
run leaves an audit entry, ``retention.purged`` or ``retention.dry_run``, with the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from storage.audit import audit
from storage.db import Database
from storage.loops import every
from storage.repositories.retention import (
    CLASSES,
    Cutoffs,
    count_due,
    purge_batch,
    record_run,
    take_lease,
)

__all__ = [
    "RetentionPolicy",
    "RetentionReport",
    "add_cli",
    "cli_main",
    "retention_run",
    "retention_task",
    "run_retention",
]

log = logging.getLogger(__name__)
REVIEW = "review_log"  # the review list's name in the counts


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days each data class is kept (None or 0: forever) and where the review list is."""

    transcripts_days: int | None = None
    tickets_days: int | None = None
    review_days: int | None = None
    events_days: int | None = None
    review_log: Path | None = None

    @classmethod
    def from_settings(cls, s: Any) -> RetentionPolicy:
        """From `bots.config.Settings` (``OMNIRELAY_RETENTION_*``)."""
        return cls(
            transcripts_days=s.retention_transcripts_days,
            tickets_days=s.retention_tickets_days,
            review_days=s.retention_review_days,
            events_days=s.retention_events_days,
            review_log=s.nlu_review_log,
        )

    @property
    def enabled(self) -> bool:
        days = (self.transcripts_days, self.tickets_days, self.review_days, self.events_days)
        return any(days)

    def cutoffs(self, now: dt.datetime) -> Cutoffs:
        return Cutoffs(
            transcripts=_before(now, self.transcripts_days),
            tickets=_before(now, self.tickets_days),
            events=_before(now, self.events_days),
        )


def _before(now: dt.datetime, days: int | None) -> dt.datetime | None:
    return now - dt.timedelta(days=days) if days else None


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one run counted (dry run) or cleared, per store."""

    at: dt.datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        verb = "would clear" if self.dry_run else "cleared"
        head = f"retention at {self.at.isoformat(timespec='seconds')}: {verb}"
        if not self.counts:
            return f"{head} nothing (no OMNIRELAY_RETENTION_* age is set)"
        return "\n".join([head, *(f"  {name}: {n}" for name, n in self.counts.items())])


# ---- the NLU review list (a JSONL file per process) -------------------------------------------


def _old_line(line: str, cut: dt.datetime) -> bool:
    """Is this review entry from before ``cut``? (An unreadable line is kept.)"""
    try:
        at = dt.datetime.fromisoformat(json.loads(line)["at"])
    except (ValueError, KeyError, TypeError):
        return False
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)) < cut


def _review_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def review_due(path: Path, cut: dt.datetime) -> int:
    return sum(_old_line(line, cut) for line in _review_lines(path))


def purge_review(path: Path, cut: dt.datetime) -> int:
    """Rewrite the review list without its entries from before ``cut``; how many went. Lines
    appended while it is rewritten are carried over (read again from where it was read)."""
    if not path.exists():
        return 0
    raw = path.read_bytes()
    lines = [line for line in raw.decode("utf-8").splitlines() if line.strip()]
    kept = [line for line in lines if not _old_line(line, cut)]
    if len(kept) == len(lines):
        return 0
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    with path.open("rb") as f:  # what was appended since: kept, it is new
        f.seek(len(raw))
        appended = f.read()
    with tmp.open("ab") as f:
        f.write(appended)
    os.replace(tmp, path)
    return len(lines) - len(kept)


# ---- one run -----------------------------------------------------------------------------------


async def _purge_store(db: Database, cutoffs: Cutoffs, name: str) -> int:
    total = 0
    while True:
        cleared = await db.run(lambda s: purge_batch(s, cutoffs, name))
        total += cleared
        if not cleared:
            return total


async def retention_run(
    db: Database,
    policy: RetentionPolicy,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    actor: str = "system",
) -> RetentionReport:
    """Count (``dry_run``) or clear every store's rows due at ``now`` (the bot clock's)."""
    cutoffs = policy.cutoffs(now)
    if dry_run:
        counts = await db.run(lambda s: count_due(s, cutoffs), write=False, snapshot=True)
    else:
        counts = {}
        for name, data_class, _ in CLASSES:
            if getattr(cutoffs, data_class) is not None:
                counts[name] = await _purge_store(db, cutoffs, name)
    review_cut = _before(now, policy.review_days)
    if review_cut is not None and policy.review_log is not None:
        clear = review_due if dry_run else purge_review
        counts[REVIEW] = await asyncio.to_thread(clear, policy.review_log, review_cut)
    report = RetentionReport(now, dry_run, counts)
    if not dry_run:
        await db.run(lambda s: record_run(s, now, counts))
    action = "retention.dry_run" if dry_run else "retention.purged"
    # keys say "rows": the audit log refuses a bare "messages" (it could hold their text)
    detail: dict[str, Any] = {f"{name}_rows": n for name, n in counts.items()}
    await audit(db, actor=actor, action=action, detail=detail, at=now)
    log.info("%s", report.text().replace("\n", ";"))
    return report


async def run_retention(
    db: Database,
    policy: RetentionPolicy,
    clock: Callable[[], dt.datetime],
    stop: asyncio.Event,
    interval: float,
    holder: str | None = None,
) -> None:
    """Every ``interval`` seconds until ``stop``: take the job's lease (the real clock's, for
    twice the interval: the holder renews it each round, another process takes over after two
    silent rounds) and, when it is ours, run retention at ``clock()`` (the bot's time)."""
    holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    if not policy.enabled:
        return

    async def one_round() -> None:
        now = dt.datetime.now(dt.UTC)
        if await db.run(partial(take_lease, holder=holder, now=now, seconds=2 * interval)):
            await retention_run(db, policy, clock())

    await every(interval, one_round, stop, name="retention: the run")


# ---- `omnirelay privacy retention [--dry-run]` --------------------------------------------------


def add_cli(actions: Any) -> None:
    """Register ``retention`` on the `omnirelay privacy` subcommand's actions."""
    p = actions.add_parser("retention", help="clear data older than OMNIRELAY_RETENTION_* ages")
    p.add_argument("--dry-run", action="store_true", help="only print what would be cleared")


def cli_main(settings: Any, args: argparse.Namespace) -> int:
    """Run retention once at the bot clock's now (``OMNIRELAY_CLOCK_START``) and print it."""
    from bots.flows.clock import Clock

    async def once() -> RetentionReport:
        db = Database(settings.database_url)
        try:
            policy = RetentionPolicy.from_settings(settings)
            now = Clock(settings.clock_start)()
            return await retention_run(db, policy, now, dry_run=args.dry_run, actor="cli")
        finally:
            await db.dispose()

    print(asyncio.run(once()).text())
    return 0


async def retention_task(app: Any) -> AsyncIterator[None]:
    """The app's cleanup context for `run_retention` (added by `omnirelay run` and `worker`)."""
    from bots.keys import CLOCK, DATABASE, SETTINGS

    s, stop = app[SETTINGS], asyncio.Event()
    policy = RetentionPolicy.from_settings(s)
    runs = run_retention(app[DATABASE], policy, app[CLOCK], stop, s.retention_interval)
    task = asyncio.create_task(runs, name="retention")
    yield
    stop.set()
    await task
