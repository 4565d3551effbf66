"""Handoff: agents, queues, tickets (filled in by the handoff work).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 15:40:00

Reserved so the identity and handoff schemas can be written in parallel on a fixed chain.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
