"""Analytics: the append-only events, their hourly rollups and the rollups' watermark.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-15 10:00:00

The models are in `storage.analytics.models`. ``uq_analytics_events_kind_key`` makes a
redelivered message or a retried job insert nothing twice; ``ix_analytics_events_kind_at``
serves the summary's reads of the events themselves, ``ix_analytics_events_customer_id_at`` the
first-contact-resolution check and an erasure, the conversation key and the (partial) ticket
id index the CSV exports. ``uq_analytics_rollups_cell`` is the key the
rollups are incremented on. The watermark starts at 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_CELL = (
    "view",
    "period",
    "kind",
    "channel",
    "language",
    "intent",
    "team",
    "agent_id",
    "reason",
    "bucket",
)


def upgrade() -> None:
    _events()
    op.create_table(
        "analytics_rollups",
        sa.Column("id", _ID, nullable=False),
        sa.Column("view", sa.String(length=1), nullable=False),
        sa.Column("period", _TS, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("value_milli", sa.BigInteger(), nullable=False),
        sa.Column("value_bh_milli", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_rollups")),
        sa.UniqueConstraint(*_CELL, name="uq_analytics_rollups_cell"),
    )
    op.create_index(
        op.f("ix_analytics_rollups_view_period"),
        "analytics_rollups",
        ["view", "period"],
        unique=False,
    )
    watermark = op.create_table(
        "analytics_watermark",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_watermark")),
    )
    op.bulk_insert(watermark, [{"name": "rollups", "last_id": 0}])


def _events() -> None:
    op.create_table(
        "analytics_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("customer_id", _ID, nullable=True),
        sa.Column("conversation_key", sa.String(length=200), nullable=True),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("value_bh", sa.Float(), nullable=True),
        sa.Column("text", sa.String(length=200), nullable=True),
        sa.Column("data", sa.JSON(none_as_null=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_analytics_events_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_events")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_analytics_events_kind_key")),
    )
    op.create_index(
        op.f("ix_analytics_events_kind_at"), "analytics_events", ["kind", "at"], unique=False
    )
    op.create_index(
        op.f("ix_analytics_events_customer_id_at"),
        "analytics_events",
        ["customer_id", "at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_analytics_events_conversation_key"),
        "analytics_events",
        ["conversation_key"],
        unique=False,
    )
    has_ticket = sa.text("ticket_id IS NOT NULL")
    op.create_index(
        "ix_analytics_events_ticket_id",
        "analytics_events",
        ["ticket_id"],
        unique=False,
        sqlite_where=has_ticket,
        postgresql_where=has_ticket,
    )


def downgrade() -> None:
    op.drop_table("analytics_watermark")
    op.drop_table("analytics_rollups")
    op.drop_table("analytics_events")
