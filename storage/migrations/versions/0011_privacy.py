"""Erasure jobs and legal holds (issue 16).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:00:00

A placeholder in the chain until its tables are added; upgrading through it changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
