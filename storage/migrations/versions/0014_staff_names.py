"""Staff names per language (issue 17).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:30:00

``staff.names`` maps a language to the name customers of that language read ("uk": "Олена
Коваленко", "en": "Dr. Olena Kovalenko"); empty, ``staff.name`` is used in every language, as
before. ``staff.name`` stays the natural key (seeding finds staff by it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch_op:
        batch_op.add_column(sa.Column("names", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch_op:
        batch_op.drop_column("names")
