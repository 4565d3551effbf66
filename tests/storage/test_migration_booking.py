"""Migration 0002 (bookings, order status history) on a fresh SQLite file and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect, text

from storage.db import Database, alembic_config, upgrade

BOOKING_TABLES = {"services", "staff", "bookings", "booking_slots"}


async def test_0002_upgrades_existing_orders_and_downgrades(empty_database_url: str) -> None:
    from alembic import command

    await asyncio.to_thread(upgrade, empty_database_url, "0001")
    db = Database(empty_database_url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO orders (number, status, items, total, created_at, updated_at) "
                    "VALUES ('OLD1', 'new', '[]', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        await asyncio.to_thread(upgrade, empty_database_url)
        async with db.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            pk = await conn.run_sync(lambda c: inspect(c).get_pk_constraint("booking_slots"))
            history = await conn.scalar(text("SELECT status_history FROM orders"))
        assert tables >= BOOKING_TABLES
        assert pk["name"] == "pk_booking_slots" or empty_database_url.startswith("sqlite")
        assert pk["constrained_columns"] == ["staff_id", "slot_start"]
        assert history in ([], "[]")
        await asyncio.to_thread(command.check, alembic_config(empty_database_url))
        await asyncio.to_thread(command.downgrade, alembic_config(empty_database_url), "0001")
        async with db.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert not tables & BOOKING_TABLES
            assert await conn.scalar(text("SELECT number FROM orders")) == "OLD1"
        await asyncio.to_thread(upgrade, empty_database_url)
    finally:
        await db.dispose()
