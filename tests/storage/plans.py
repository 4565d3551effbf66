"""SQLite's plan for a query, on a freshly migrated database (the tests of the indexes that
migrations 0017 and 0018 added for the lookups SQLite planned badly)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import sqlite

from storage.db import Database


async def sqlite_plan(template: Path, tmp_path: Path, query: Any) -> list[str]:
    """The steps of ``EXPLAIN QUERY PLAN`` for ``query`` on a copy of the migrated ``template``."""
    path = tmp_path / "plan.db"
    shutil.copyfile(template, path)
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.session() as s:
            return [str(row[-1]) for row in await s.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
    finally:
        await db.dispose()
