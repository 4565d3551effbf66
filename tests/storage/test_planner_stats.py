"""SQLite's planner statistics (`storage.planner_stats`): sampled ``ANALYZE`` once the file is
large enough, never on a nearly empty one, nothing on PostgreSQL; `keep_fresh` runs at once."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from storage import planner_stats
from storage.db import Database
from tests.storage.conftest import eventually


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "stats.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def _stat_tables(s: Session) -> set[str]:
    exists = s.execute(
        text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
    ).scalar_one()
    if not exists:
        return set()
    return {row[0] for row in s.execute(text("SELECT tbl FROM sqlite_stat1"))}


async def _with_customers(db: Database, n: int) -> None:
    await db.run(
        lambda s: s.execute(
            text("INSERT INTO customers (id, created_at, consent) VALUES (:id, :at, '{}')"),
            [{"id": i, "at": "2026-12-01 00:00:00"} for i in range(1, n + 1)],
        )
    )


async def test_a_small_file_is_left_unanalysed_a_large_one_is_analysed(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        await _with_customers(db, 500)
        assert await db.run(planner_stats.refresh) is False  # a few hundred KB, far below 40 MB
        assert await db.run(_stat_tables, write=False) == set()
        assert await db.run(lambda s: planner_stats.refresh(s, min_pages=1)) is True
        assert "customers" in await db.run(_stat_tables, write=False)
    finally:
        await db.dispose()


async def test_keep_fresh_analyses_at_start_and_stops_when_told(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    stop = asyncio.Event()
    try:
        await _with_customers(db, 50)
        task = asyncio.create_task(planner_stats.keep_fresh(db, stop, interval=3600, min_pages=1))

        async def analysed() -> bool:
            return "customers" in await db.run(_stat_tables, write=False)

        await eventually(analysed, within=60, what="sqlite_stat1 filled")
        stop.set()
        await asyncio.wait_for(task, timeout=60)  # does not wait out the hour
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_keep_fresh_does_nothing_on_postgresql(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        assert db.dialect == "postgresql"
        # returns at once (no loop, no query), though stop is never set
        await asyncio.wait_for(planner_stats.keep_fresh(db, asyncio.Event()), timeout=60)
    finally:
        await db.dispose()
