"""Identity linking: link codes, merges, profile fields (filled in by the identity work).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 15:40:00

Reserved so the identity and handoff schemas can be written in parallel on a fixed chain.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
