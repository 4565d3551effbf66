"""A customer's scheduled proactive jobs are searched by (customer_id, status, due_at)
(migration 0018): planned on (status, due_at), SQLite read every scheduled job of every customer
on each flow message (64 ms a call at 84,000 jobs; a 300,000-message run fell from ~105 to ~20
messages/s)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from storage.proactive_models import ProactiveJob
from tests.storage.plans import sqlite_plan


async def test_a_customers_scheduled_jobs_are_searched_by_customer(
    _sqlite_template: Path, tmp_path: Path
) -> None:
    query = (
        select(ProactiveJob)
        .where(ProactiveJob.customer_id == 5, ProactiveJob.status == "scheduled")
        .order_by(ProactiveJob.due_at, ProactiveJob.id)
    )
    plan = await sqlite_plan(_sqlite_template, tmp_path, query)
    wanted = "ix_proactive_jobs_customer_id_status_due_at (customer_id=? AND status=?)"
    assert any(wanted in step for step in plan), plan
