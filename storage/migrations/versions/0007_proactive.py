"""Proactive messages: scheduled jobs, their decisions, the consent log, a customer's time zone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-14 10:00:00

The models are in `storage.proactive_models`. ``uq_proactive_jobs_customer_id_scenario_
occurrence_step`` makes a repeated trigger insert nothing; ``ix_proactive_jobs_status_due_at``
serves the schedulers' claim; ``ix_proactive_decisions_customer_id_topic_decision_at`` the
frequency caps. The ALTER of ``customers`` goes through ``batch_alter_table`` (SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON(none_as_null=True)


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["customer_id"],
        ["customers.id"],
        name=op.f(f"fk_{table}_customer_id_customers"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    _jobs()
    op.create_table(
        "proactive_decisions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("scenario", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("at", _TS, nullable=False),
        _customer_fk("proactive_decisions"),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["proactive_jobs.id"],
            name=op.f("fk_proactive_decisions_job_id_proactive_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_decisions")),
    )
    op.create_index(
        op.f("ix_proactive_decisions_job_id"), "proactive_decisions", ["job_id"], unique=False
    )
    op.create_index(
        op.f("ix_proactive_decisions_customer_id_topic_decision_at"),
        "proactive_decisions",
        ["customer_id", "topic", "decision", "at"],
        unique=False,
    )
    op.create_table(
        "consents",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        _customer_fk("consents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(
        op.f("ix_consents_customer_id_topic_at"),
        "consents",
        ["customer_id", "topic", "at"],
        unique=False,
    )


def _jobs() -> None:
    op.create_table(
        "proactive_jobs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("scenario", sa.String(length=64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("variables", _JSON, nullable=False),
        sa.Column("cancel_on", _JSON, nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("message_id", _ID, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        _customer_fk("proactive_jobs"),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_proactive_jobs_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_jobs")),
        sa.UniqueConstraint(
            "customer_id",
            "scenario",
            "occurrence",
            "step",
            name=op.f("uq_proactive_jobs_customer_id_scenario_occurrence_step"),
        ),
    )
    op.create_index(
        op.f("ix_proactive_jobs_customer_id"), "proactive_jobs", ["customer_id"], unique=False
    )
    op.create_index(
        op.f("ix_proactive_jobs_status_due_at"),
        "proactive_jobs",
        ["status", "due_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("consents")
    op.drop_table("proactive_decisions")
    op.drop_table("proactive_jobs")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("timezone")
