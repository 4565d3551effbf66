"""Handoff: agents, their console sessions, queues, tickets and the ticket timeline.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 15:40:00

New tables and indexes only (plain DDL on both dialects). The models live in
`handoff.models`, on the shared `storage.models.Base` metadata. The partial unique index
``uq_tickets_open_customer`` allows one open ticket per customer.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OPEN = sa.text("status <> 'closed'")


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("skills", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("languages", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("max_tickets", sa.Integer(), nullable=False),
        sa.Column("load", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _at("created_at"),
        _at("last_seen_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("name", name=op.f("uq_agents_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_agents_token_hash")),
    )
    op.create_table(
        "handoff_queues",
        sa.Column("id", _ID, nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_queues")),
        sa.UniqueConstraint("topic", "language", name=op.f("uq_handoff_queues_topic_language")),
    )
    op.create_table(
        "agent_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        _at("created_at"),
        _at("expires_at"),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_sessions_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_agent_sessions")),
    )
    op.create_index(op.f("ix_agent_sessions_agent_id"), "agent_sessions", ["agent_id"])
    op.create_table(
        "tickets",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("queue_id", _ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent_id", _ID, nullable=True),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("slots", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("task", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("escalated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("offer_count", sa.Integer(), server_default="0", nullable=False),
        _at("offered_at", nullable=True),
        _at("created_at"),
        _at("assigned_at", nullable=True),
        _at("first_response_at", nullable=True),
        _at("resolved_at", nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        _at("csat_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_tickets_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_tickets_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["handoff_queues.id"], name=op.f("fk_tickets_queue_id_handoff_queues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index(op.f("ix_tickets_agent_id_status"), "tickets", ["agent_id", "status"])
    op.create_index(
        op.f("ix_tickets_customer_id_created_at"), "tickets", ["customer_id", "created_at"]
    )
    op.create_index(op.f("ix_tickets_queue_id"), "tickets", ["queue_id"])
    op.create_index(
        op.f("ix_tickets_status_priority_created_at"),
        "tickets",
        ["status", "priority", "created_at"],
    )
    op.create_index(
        "uq_tickets_open_customer",
        "tickets",
        ["customer_id"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_table(
        "ticket_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("agent_id", _ID, nullable=True),
        sa.Column("data", sa.JSON(none_as_null=True), nullable=False),
        _at("created_at"),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_ticket_events_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_events_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    op.create_index(op.f("ix_ticket_events_ticket_id"), "ticket_events", ["ticket_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_events_ticket_id"), table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index("uq_tickets_open_customer", table_name="tickets")
    op.drop_index(op.f("ix_tickets_status_priority_created_at"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_queue_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_customer_id_created_at"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_agent_id_status"), table_name="tickets")
    op.drop_table("tickets")
    op.drop_index(op.f("ix_agent_sessions_agent_id"), table_name="agent_sessions")
    op.drop_table("agent_sessions")
    op.drop_table("handoff_queues")
    op.drop_table("agents")
