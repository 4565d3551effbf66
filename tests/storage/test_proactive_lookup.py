"""A customer's scheduled proactive jobs are searched by (customer_id, status, due_at)
(migration 0018): planned on (status, due_at), SQLite read every scheduled job of every customer
on each flow message (64 ms a call at 84,000 jobs; a 300,000-message run fell from ~105 to ~20
messages/s)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from storage.db import Database
from storage.proactive_models import ProactiveJob


async def test_a_customers_scheduled_jobs_are_searched_by_customer(
    _sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "plan.db"
    shutil.copyfile(_sqlite_template, path)
    query = (
        select(ProactiveJob)
        .where(ProactiveJob.customer_id == 5, ProactiveJob.status == "scheduled")
        .order_by(ProactiveJob.due_at, ProactiveJob.id)
    )
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.session() as s:
            plan = [str(row[-1]) for row in await s.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
    finally:
        await db.dispose()
    wanted = "ix_proactive_jobs_customer_id_status_due_at (customer_id=? AND status=?)"
    assert any(wanted in step for step in plan), plan
