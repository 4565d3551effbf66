"""A customer's scheduled proactive jobs are found by (customer_id, status, due_at).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 15:05:00

`storage.repositories.proactive.ProactiveRepository.pending` (every message of a flow that has
an unfinished-flow nudge) asks for one customer's scheduled jobs by due time. SQLite planned it
on ``(status, due_at)``, reading every scheduled job of every customer: 64 ms a call with
84,000 of them, where the throughput of a 300,000-message run fell from ~105 to ~20 messages/s.
On (customer_id, status, due_at) it is 0.05 ms. The index replaces the one on ``customer_id``
alone, which is its prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_proactive_jobs_customer_id_status_due_at",
        "proactive_jobs",
        ["customer_id", "status", "due_at"],
    )
    op.drop_index("ix_proactive_jobs_customer_id", table_name="proactive_jobs")


def downgrade() -> None:
    op.create_index("ix_proactive_jobs_customer_id", "proactive_jobs", ["customer_id"])
    op.drop_index("ix_proactive_jobs_customer_id_status_due_at", table_name="proactive_jobs")
