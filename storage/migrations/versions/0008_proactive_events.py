"""Events of the business's systems (`POST /api/events`), accepted once per event id.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14 11:00:00

The model is `storage.proactive_models.ProactiveEvent`; ``uq_proactive_events_event_id`` makes
a repeated post of one event a no-op answered as the first was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "proactive_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("fingerprint", sa.String(length=400), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("result", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_proactive_events_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_proactive_events_event_id")),
    )
    op.create_index(
        op.f("ix_proactive_events_customer_id"), "proactive_events", ["customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("proactive_events")
