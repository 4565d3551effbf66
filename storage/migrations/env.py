"""Alembic environment: async engine, URL from -x url / OMNIRELAY_DATABASE_URL / config."""

from __future__ import annotations

import asyncio
import os
from importlib.metadata import entry_points
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import storage.analytics.models  # its tables join the metadata, for autogenerate
import storage.audit  # its table joins the metadata, for autogenerate
import storage.proactive_models  # noqa: F401 (its tables join the metadata, for autogenerate)
from storage.models import Base
from storage.repositories.privacy import ErasureJob  # noqa: F401 (its table joins the metadata)
from storage.repositories.retention import RetentionRun  # noqa: F401 (the same)

DEFAULT_URL = "sqlite+aiosqlite:///./omnirelay.db"

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Other packages add their tables to the same metadata (pyproject's "omnirelay.models").
for _models in entry_points(group="omnirelay.models"):
    _models.load()
target_metadata = Base.metadata


def database_url() -> str:
    """The URL to migrate, in order of precedence."""
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    return str(
        url
        or os.environ.get("OMNIRELAY_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
        or DEFAULT_URL
    )


def _configure(url: str, connection: Connection | None = None) -> None:
    context.configure(
        url=None if connection is not None else url,
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    _configure(database_url())
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(database_url(), connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    """Migrate through an async engine."""
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
