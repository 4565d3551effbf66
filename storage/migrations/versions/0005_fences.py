"""Fencing tokens: the newest token of every lease scope, and the claimant of each pending reply.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 21:10:00

``fences`` holds, per scope (``"q:<partition>"`` for a queue partition), the newest fencing
token handed out by its lease. A turn's transaction commits only while the token it was read
under is still the one stored here (see `storage.fences`). ``messages.claimed_by`` names the
process whose outbox holds a pending reply, so a process that wakes from a stall sends nothing
another process has claimed meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fences",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_fences")),
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("claimed_by")
    op.drop_table("fences")
