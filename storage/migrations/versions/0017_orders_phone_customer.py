"""An order is found by a verified phone through (phone, customer_id), not by every unlinked one.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 14:10:00

A customer's orders are those under their id, or those with one of their verified phones and no
customer id (`storage.repositories.orders.for_customer_query`). With an index on ``phone`` alone
SQLite searched the second branch by ``customer_id IS NULL``: every unlinked order, on every
"where is my order" without a number. The index on (phone, customer_id) answers both terms of
that branch, and every read by phone alone, so it replaces the one on ``phone``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_orders_phone_customer_id", "orders", ["phone", "customer_id"])
    op.drop_index("ix_orders_phone", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_phone", "orders", ["phone"])
    op.drop_index("ix_orders_phone_customer_id", table_name="orders")
