"""Customer, conversation and order repositories, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import Database
from storage.errors import StorageError
from storage.models import Customer
from storage.repositories import ConversationRepository, CustomerRepository, OrderRepository

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


async def test_resolve_identity_creates_then_finds(db: Database) -> None:
    async with db.transaction() as s:
        customer, identity = await CustomerRepository(s).resolve_identity(
            "telegram", "1001", display_name="Olena", language="uk", now=NOW
        )
        assert customer.id and identity.customer_id == customer.id
        assert identity.reachable is True
    async with db.transaction() as s:
        again, identity2 = await CustomerRepository(s).resolve_identity("telegram", "1001", now=NOW)
        assert (again.id, identity2.id) == (customer.id, identity.id)
        assert again.display_name == "Olena" and again.language == "uk"
        assert again.created_at == NOW  # aware UTC survives the round trip
        other, _ = await CustomerRepository(s).resolve_identity("viber", "1001", now=NOW)
        assert other.id != customer.id


async def test_resolve_identity_concurrently(db: Database) -> None:
    async def resolve() -> int:
        async with db.transaction() as s:
            customer, _ = await CustomerRepository(s).resolve_identity(
                "instagram", "igsid-5", now=NOW
            )
            return customer.id

    ids = await asyncio.gather(*(resolve() for _ in range(6)))
    assert len(set(ids)) == 1
    async with db.session() as s:
        from sqlalchemy import func, select

        assert await s.scalar(select(func.count()).select_from(Customer)) == 1


async def test_get_touch_and_reachable(db: Database) -> None:
    async with db.transaction() as s:
        repo = CustomerRepository(s)
        customer, _ = await repo.resolve_identity("viber", "v1", now=NOW)
    later = NOW + dt.timedelta(hours=1)
    async with db.transaction() as s:
        repo = CustomerRepository(s)
        assert await repo.set_reachable("viber", "v1", False)
        assert not await repo.set_reachable("viber", "nobody", False)
        await repo.touch(customer.id, "viber", later)
    async with db.session() as s:
        repo = CustomerRepository(s)
        fetched = await repo.get(customer.id)
        assert fetched is not None
        assert fetched.last_seen_at == later and fetched.last_channel == "viber"
        _, identity = await repo.resolve_identity("viber", "v1", now=NOW)
        assert identity.last_inbound_at == later
        assert identity.reachable is True  # a customer who writes to us is reachable again
        assert await repo.get(999_999) is None


async def test_naive_datetimes_are_rejected(db: Database) -> None:
    with pytest.raises(StorageError, match="naive"):
        async with db.transaction() as s:
            await CustomerRepository(s).resolve_identity(
                "telegram", "x", now=dt.datetime(2026, 1, 1)
            )


async def test_conversation_current_or_new(db: Database) -> None:
    async with db.transaction() as s:
        customer, _ = await CustomerRepository(s).resolve_identity("telegram", "c", now=NOW)
        conversations = ConversationRepository(s)
        first = await conversations.current_or_new(customer.id, NOW)
        assert first.status == "open"
        later = NOW + dt.timedelta(minutes=5)
        same = await conversations.current_or_new(customer.id, later)
        assert same.id == first.id and same.last_message_at == later
        first.status = "closed"
        await s.flush()
        fresh = await conversations.current_or_new(customer.id, later)
        assert fresh.id != first.id


async def test_orders(db: Database) -> None:
    async with db.transaction() as s:
        customer, _ = await CustomerRepository(s).resolve_identity("telegram", "o", now=NOW)
        orders = OrderRepository(s)
        await orders.add(
            "a1001",
            status="shipped",
            items=[{"sku": "MUG", "qty": 2}],
            total="19.90",
            customer_id=customer.id,
            phone="+380501234567",
            eta=NOW + dt.timedelta(days=2),
            tracking_number="NP123",
            now=NOW,
        )
        await orders.add("A1002", customer_id=customer.id, now=NOW + dt.timedelta(days=1))
    async with db.session() as s:
        orders = OrderRepository(s)
        order = await orders.by_number(" a1001")
        assert order is not None
        assert order.number == "A1001" and order.status == "shipped"
        assert order.items == [{"sku": "MUG", "qty": 2}]
        assert order.total == Decimal("19.90")
        assert order.eta == NOW + dt.timedelta(days=2)
        assert await orders.by_number("Z9") is None
        assert [o.number for o in await orders.for_customer(customer.id)] == ["A1002", "A1001"]


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await CustomerRepository(s).resolve_identity("telegram", "rollback", now=NOW)
            raise RuntimeError("boom")
    async with db.session() as s:
        assert await s.get(Customer, 1) is None


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
    try:
        async with db.session() as s:
            assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await s.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
    finally:
        await db.dispose()
