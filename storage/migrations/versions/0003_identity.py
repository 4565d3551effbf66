"""Identity linking: customer phones, consent, link codes and attempts, merges.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 15:40:00

ALTERs of ``customers`` go through ``batch_alter_table`` so they also run on SQLite; new
tables and indexes are plain DDL on both dialects.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def _customer_fk(table: str, column: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["customers.id"],
        name=op.f(f"fk_{table}_{column}_customers"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(
            sa.Column(
                "consent",
                sa.JSON(none_as_null=True),
                server_default=sa.text("'{}'"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("merged_into_id", _ID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_customers_merged_into_id_customers"),
            "customers",
            ["merged_into_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(op.f("ix_customers_merged_into_id"), ["merged_into_id"])

    op.create_table(
        "customer_phones",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("verified", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("verified_via", sa.String(length=32), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        _customer_fk("customer_phones", "customer_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_phones")),
        sa.UniqueConstraint(
            "customer_id", "phone", name=op.f("uq_customer_phones_customer_id_phone")
        ),
    )
    op.create_index(op.f("ix_customer_phones_customer_id"), "customer_phones", ["customer_id"])
    op.create_index(op.f("ix_customer_phones_phone"), "customer_phones", ["phone"])

    op.create_table(
        "link_codes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("requester_id", _ID, nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("sent_channel", sa.String(length=32), nullable=True),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("used_at", _TS, nullable=True),
        sa.Column("used_by", sa.String(length=170), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        _customer_fk("link_codes", "customer_id"),
        _customer_fk("link_codes", "requester_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_codes")),
    )
    op.create_index(op.f("ix_link_codes_code_hash"), "link_codes", ["code_hash"])
    op.create_index(op.f("ix_link_codes_customer_id"), "link_codes", ["customer_id"])

    op.create_table(
        "link_attempts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_attempts")),
    )
    op.create_index(
        op.f("ix_link_attempts_channel_external_id_at"),
        "link_attempts",
        ["channel", "external_id", "at"],
    )

    op.create_table(
        "customer_merges",
        sa.Column("id", _ID, nullable=False),
        sa.Column("survivor_id", _ID, nullable=False),
        sa.Column("absorbed_id", _ID, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("moved", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("survivor_before", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("absorbed_session", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("undone_at", _TS, nullable=True),
        sa.Column("undone_by", sa.String(length=100), nullable=True),
        _customer_fk("customer_merges", "survivor_id"),
        _customer_fk("customer_merges", "absorbed_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merges")),
    )
    op.create_index(op.f("ix_customer_merges_survivor_id"), "customer_merges", ["survivor_id"])
    op.create_index(op.f("ix_customer_merges_absorbed_id"), "customer_merges", ["absorbed_id"])

    # Phones known before this revision were never verified by a platform: keep them, unverified.
    op.execute(
        sa.text(
            "INSERT INTO customer_phones (customer_id, phone, verified, created_at) "
            "SELECT id, phone, :no, created_at FROM customers WHERE phone IS NOT NULL"
        ).bindparams(no=False)
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_merges_absorbed_id"), table_name="customer_merges")
    op.drop_index(op.f("ix_customer_merges_survivor_id"), table_name="customer_merges")
    op.drop_table("customer_merges")
    op.drop_index(op.f("ix_link_attempts_channel_external_id_at"), table_name="link_attempts")
    op.drop_table("link_attempts")
    op.drop_index(op.f("ix_link_codes_customer_id"), table_name="link_codes")
    op.drop_index(op.f("ix_link_codes_code_hash"), table_name="link_codes")
    op.drop_table("link_codes")
    op.drop_index(op.f("ix_customer_phones_phone"), table_name="customer_phones")
    op.drop_index(op.f("ix_customer_phones_customer_id"), table_name="customer_phones")
    op.drop_table("customer_phones")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_index(op.f("ix_customers_merged_into_id"))
        batch_op.drop_constraint(op.f("fk_customers_merged_into_id_customers"), type_="foreignkey")
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("consent")
