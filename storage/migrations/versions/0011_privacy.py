"""Erasure jobs and legal holds (issue 16).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:00:00

The model `ErasureJob` is in `storage.repositories.privacy`: one row per erasure of a customer,
with the step it reached (a crashed job resumes at the next step) and its receipt (counts per
store). ``customer_id`` has no foreign key: the receipt outlives whatever happens to the row.
``legal_hold`` on customers and tickets stops erasure and retention purges. The ALTERs go
through ``batch_alter_table`` (SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON(none_as_null=True)


def upgrade() -> None:
    for table in ("customers", "tickets"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(), nullable=False)
            )
    op.create_table(
        "erasure_jobs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_name", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("receipt", _JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_jobs")),
    )
    op.create_index(
        op.f("ix_erasure_jobs_customer_id"), "erasure_jobs", ["customer_id"], unique=False
    )
    op.create_index(op.f("ix_erasure_jobs_state"), "erasure_jobs", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_erasure_jobs_state"), table_name="erasure_jobs")
    op.drop_index(op.f("ix_erasure_jobs_customer_id"), table_name="erasure_jobs")
    op.drop_table("erasure_jobs")
    for table in ("tickets", "customers"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("legal_hold")
