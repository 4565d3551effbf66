"""The durable inbox: each accepted inbound event, stored before the webhook answers 2xx.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:00:00

A new table only (plain DDL on both dialects); the model is `storage.inbox.InboxEntry`.
``uq_inbox_channel_platform_id`` is the durable duplicate check; the partial index
``ix_inbox_pending`` serves the sweeper, which reads only unprocessed rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PENDING = sa.text("done_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("platform_id", sa.Text(), nullable=False),
        sa.Column("ordering_key", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sweeps", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("channel", "platform_id", name=op.f("uq_inbox_channel_platform_id")),
    )
    op.create_index(
        "ix_inbox_pending",
        "inbox",
        ["id"],
        unique=False,
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_index(op.f("ix_inbox_done_at"), "inbox", ["done_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_done_at"), table_name="inbox")
    op.drop_index("ix_inbox_pending", table_name="inbox")
    op.drop_table("inbox")
