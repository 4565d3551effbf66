"""Retention runs (issue 16).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 03:00:00

``retention_runs`` holds the retention job's lease (one row, made here: whichever process
takes it runs the job, see `storage.repositories.retention.take_lease`) and what the last run
cleared. The model is `storage.repositories.retention.RetentionRun`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    runs = op.create_table(
        "retention_runs",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("last_run_at", _TS, nullable=True),
        sa.Column("last_counts", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_retention_runs")),
    )
    op.bulk_insert(runs, [{"name": "retention"}])


def downgrade() -> None:
    op.drop_table("retention_runs")
