"""The summary's covering index holds the filter columns too.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 23:05:00

``ix_analytics_events_reads`` (kind, at, value, value_bh, text) covered the summary's times and
fallback phrases of an unfiltered range, but a range filtered by channel, language, team or
agent looked each ticket's and fallback's row up in the table for those columns. With them at
the end of the index the filtered reads come out of the index as well. Measured on SQLite over
1,000,000 messages (30 days, channel telegram + language uk, quiet machine): the times 90 ->
19 ms, the fallback phrases 39 -> 5 ms, the whole summary 147 -> 49 ms; 7 days of team orders
86 -> 38 ms. Only the read kinds are in the index (partial), so a message's own events write
nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ["kind", "at", "value", "value_bh", "text"]
_AFTER = [*_BEFORE, "channel", "language", "team", "agent_id"]
# written out, not imported: a migration keeps the predicate it created
_READS = (
    "kind IN ('agent.first_response', 'conversation.started', 'fallback', 'ticket.created',"
    " 'ticket.resolved')"
)


def _replace(columns: list[str]) -> None:
    op.drop_index("ix_analytics_events_reads", table_name="analytics_events")
    where = sa.text(_READS)
    op.create_index(
        "ix_analytics_events_reads",
        "analytics_events",
        columns,
        sqlite_where=where,
        postgresql_where=where,
    )


def upgrade() -> None:
    _replace(_AFTER)


def downgrade() -> None:
    _replace(_BEFORE)
