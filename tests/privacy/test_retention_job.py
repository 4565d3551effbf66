"""The scheduled retention job on SQLite and PostgreSQL: one process at a time takes its lease,
several processes running the periodic task clear the data once, and the CLI's dry run prints
the counts that `omnirelay privacy retention` then clears."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from bots.cli import main
from bots.flows.clock import Clock
from bots.privacy.retention import RetentionPolicy, run_retention
from storage.audit import AuditEntry
from storage.db import Database
from storage.models import Message
from storage.repositories.retention import take_lease
from tests.conftest import run_in_thread
from tests.fakes import wait_until
from tests.privacy.test_retention import T0, seed


async def test_one_holder_at_a_time_takes_the_lease(db: Database) -> None:
    now = dt.datetime.now(dt.UTC)

    async def take(holder: str, at: dt.datetime) -> bool:
        return await db.run(lambda s: take_lease(s, holder, at, 60))

    assert await take("one", now)
    assert not await take("two", now + dt.timedelta(seconds=30))  # held by one
    assert await take("one", now + dt.timedelta(seconds=30))  # the holder renews it
    assert not await take("two", now + dt.timedelta(seconds=80))  # renewed until +90
    assert await take("two", now + dt.timedelta(seconds=91))  # expired: another takes over


async def audited(db: Database, action: str) -> int:
    async with db.session() as s:
        stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        return int(await s.scalar(stmt) or 0)


async def test_three_processes_run_the_job_once_per_round(db: Database) -> None:
    await seed(db)
    policy = RetentionPolicy(transcripts_days=30)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_retention(db, policy, Clock(T0), stop, 3600, holder=f"p{n}"))
        for n in range(3)
    ]
    await wait_until(lambda: audited(db, "retention.purged"), timeout=30, what="a run")
    stop.set()
    await asyncio.gather(*tasks)
    assert await audited(db, "retention.purged") == 1
    async with db.session() as s:
        old_a = await s.scalar(select(func.count()).where(Message.text == "old a"))
    assert old_a == 0


@pytest.fixture
def root_logger() -> Iterator[None]:
    """The root logger's handlers and level as they were (the CLI sets up its own)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("root_logger")
def test_the_cli_dry_run_prints_what_the_run_clears(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def prepare() -> None:
        db = Database(database_url)
        try:
            await seed(db)
        finally:
            await db.dispose()

    run_in_thread(lambda: asyncio.run(prepare()))
    monkeypatch.setenv("OMNIRELAY_DATABASE_URL", database_url)
    monkeypatch.setenv("OMNIRELAY_CLOCK_START", T0.isoformat())
    monkeypatch.setenv("OMNIRELAY_RETENTION_TRANSCRIPTS_DAYS", "30")
    monkeypatch.setenv("OMNIRELAY_RETENTION_TICKETS_DAYS", "0")  # 0: kept forever
    assert run_in_thread(main, ["privacy", "retention", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "would clear" in dry and "messages: 1" in dry and "tickets" not in dry
    assert run_in_thread(main, ["privacy", "retention"]) == 0
    assert "cleared\n  messages: 1" in capsys.readouterr().out
    assert run_in_thread(main, ["privacy", "retention", "--dry-run"]) == 0
    assert "messages: 0" in capsys.readouterr().out
