"""Dialect helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Update, select, update
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


def claim_first(
    session: AsyncSession | Session,
    model: Any,
    due: Sequence[Any],
    order_by: Sequence[Any],
    limit: int,
    values: dict[str, Any],
) -> Update:
    """``UPDATE model SET values`` on the first ``limit`` rows matching ``due`` (in
    ``order_by``), ``RETURNING`` them: concurrent callers get disjoint rows (``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL; SQLite serialises writers and re-checks ``due``).

    On PostgreSQL the pick is a materialised CTE, run once: inside ``IN (subquery)`` PostgreSQL
    may rescan the subquery per row, skip the rows this very statement just updated and so
    hand out more than ``limit`` rows."""
    picked = (
        select(model.id)
        .where(*due)
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = update(model)
    if session.get_bind().dialect.name == "postgresql":
        cte = picked.cte("picked").prefix_with("MATERIALIZED")
        stmt = stmt.where(model.id == cte.c.id)
    else:
        stmt = stmt.where(model.id.in_(picked.scalar_subquery()), *due)
    return (
        stmt.values(**values)
        .returning(model)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
