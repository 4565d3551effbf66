"""Alembic migrations on a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import inspect

from storage.db import Database, alembic_config, upgrade
from storage.errors import BackendUnavailable

TABLES = {"customers", "channel_identities", "conversations", "messages", "orders"}


async def test_upgrade_creates_schema_and_is_idempotent(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    await asyncio.to_thread(upgrade, empty_database_url)  # already at head: no-op
    db = Database(empty_database_url)
    try:
        async with db.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            indexes = await conn.run_sync(
                lambda c: {i["name"]: i for i in inspect(c).get_indexes("messages")}
            )
        assert tables >= TABLES | {"alembic_version"}
        inbound = indexes["uq_messages_inbound_platform_id"]
        assert inbound["unique"] and inbound["column_names"] == ["channel", "platform_message_id"]
        assert "ix_messages_status_next_attempt_at" in indexes
        await db.ping()
    finally:
        await db.dispose()


async def test_migrations_match_models(empty_database_url: str) -> None:
    """`alembic check`: the models and the migration scripts describe the same schema."""
    from alembic import command

    await asyncio.to_thread(upgrade, empty_database_url)
    await asyncio.to_thread(command.check, alembic_config(empty_database_url))


async def test_downgrade_to_base_and_back(empty_database_url: str) -> None:
    from alembic import command

    await asyncio.to_thread(upgrade, empty_database_url)
    await asyncio.to_thread(command.downgrade, alembic_config(empty_database_url), "base")
    await asyncio.to_thread(upgrade, empty_database_url)


async def test_ping_unreachable_database() -> None:
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(BackendUnavailable):
            await db.ping()
    finally:
        await db.dispose()


def test_migrations_ship_inside_the_package() -> None:
    import storage

    root = Path(storage.__file__).parent / "migrations"
    assert (root / "env.py").is_file()
    assert (root / "script.py.mako").is_file()
    assert (root / "__init__.py").is_file() and (root / "versions" / "__init__.py").is_file()
    assert any(root.joinpath("versions").glob("0001_*.py"))
