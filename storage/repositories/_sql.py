"""Dialect helpers shared by the repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(
    session: AsyncSession | Session,
    table: Any,
    index_elements: list[str],
    index_where: Any = None,
) -> Any:
    """``INSERT ... ON CONFLICT (index_elements) [WHERE index_where] DO NOTHING`` for the
    session's dialect (``index_where`` names a partial unique index)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(
            index_elements=index_elements, index_where=index_where
        )
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(
            index_elements=index_elements, index_where=index_where
        )
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")
