"""First-contact resolution's lookup by customer and kind.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:40:00

Each group commit whose turns start a task looks for the customers' resolved tickets of the last
N days (`storage.analytics.events.came_back`). Through (customer_id, at) that read every event of
those customers in the window, their messages included, to keep the few ``ticket.resolved``: in
bench-load, where a customer writes all the time, it was most of what writing the events cost
(~1.4 ms of ~4.5 ms of CPU per message on SQLite). (customer_id, kind, at) goes straight to them,
and still serves everything that looked a customer's events up by ``customer_id`` alone (erasure).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_analytics_events_customer_id_kind_at",
        "analytics_events",
        ["customer_id", "kind", "at"],
    )
    op.drop_index("ix_analytics_events_customer_id_at", table_name="analytics_events")


def downgrade() -> None:
    op.create_index("ix_analytics_events_customer_id_at", "analytics_events", ["customer_id", "at"])
    op.drop_index("ix_analytics_events_customer_id_kind_at", table_name="analytics_events")
