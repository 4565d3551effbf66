"""Bookings: services, staff, bookings, their slot claims; order status history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:57:24.679943

Every ALTER of an existing table goes through ``batch_alter_table`` so it also runs on SQLite
(``render_as_batch``); new tables and indexes are plain DDL on both dialects.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", _ID, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_uk", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("code", name=op.f("uq_services_code")),
    )
    op.create_table(
        "staff",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("skills", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("working_hours", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="Europe/Kyiv", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
    )
    op.create_table(
        "bookings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("customer_id", _ID, nullable=True),
        sa.Column("service_id", _ID, nullable=False),
        sa.Column("staff_id", _ID, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_bookings_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_bookings_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_bookings_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("reference", name=op.f("uq_bookings_reference")),
    )
    op.create_index(
        op.f("ix_bookings_customer_id_starts_at"), "bookings", ["customer_id", "starts_at"]
    )
    op.create_index(op.f("ix_bookings_service_id"), "bookings", ["service_id"])
    op.create_index(op.f("ix_bookings_staff_id_starts_at"), "bookings", ["staff_id", "starts_at"])

    op.create_table(
        "booking_slots",
        sa.Column("staff_id", _ID, nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booking_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_slots_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_booking_slots_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "slot_start", name=op.f("pk_booking_slots")),
    )
    op.create_index(op.f("ix_booking_slots_booking_id"), "booking_slots", ["booking_id"])

    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(
            sa.Column(
                "status_history",
                sa.JSON(none_as_null=True),
                server_default=sa.text("'[]'"),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("status_history")

    op.drop_index(op.f("ix_booking_slots_booking_id"), table_name="booking_slots")
    op.drop_table("booking_slots")
    op.drop_index(op.f("ix_bookings_staff_id_starts_at"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_service_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_customer_id_starts_at"), table_name="bookings")
    op.drop_table("bookings")
    op.drop_table("staff")
    op.drop_table("services")
