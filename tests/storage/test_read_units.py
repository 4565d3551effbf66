"""Read units (`Database.run` with ``write=False``): on PostgreSQL a one-statement read is one
round trip (no BEGIN and ROLLBACK around it: the order lookups are asked on most messages), and a
read whose statements must agree passes ``snapshot=True`` and sees one state of the database
(on both backends). Round trips are counted as the socket writes of the connections to
PostgreSQL: every message asyncpg sends (BEGIN, a statement's Bind/Execute/Sync, ROLLBACK) is
one write, and the next waits for the answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from bots.flows.backends import SqlOrderBackend
from storage.db import Database
from storage.models import Order, utcnow
from storage.repositories import CustomerRepository, OrderRepository
from storage.repositories.orders import by_number_query
from tests.conftest import drop_postgres_database, fresh_postgres_database, run_in_thread


class Wire:
    """Counts the socket writes of every connection ``db`` opens to PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.writes = 0
        event.listen(db.engine.sync_engine, "connect", self._tap)

    def _tap(self, dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        transport = dbapi_connection.driver_connection._transport
        write = transport.write

        def counted(data: Any) -> None:
            self.writes += 1
            write(data)

        transport.write = counted


@pytest.fixture
def pg_url(postgres_url: str, _postgres_template: str) -> Iterator[str]:
    name, url = fresh_postgres_database(postgres_url, _postgres_template)
    try:
        yield url
    finally:
        drop_postgres_database(postgres_url, name)


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[tuple[Database, Wire]]:
    db = Database(pg_url, pool_size=1, max_overflow=0)  # every unit on the same connection
    wire = Wire(db)
    async with db.transaction() as s:
        customer, _ = await CustomerRepository(s).resolve_identity(
            "telegram", "reader", now=utcnow()
        )
        await OrderRepository(s).add("A1001", customer_id=customer.id, status="shipped")
    try:
        yield db, wire
    finally:
        await db.dispose()


async def _writes(wire: Wire, unit: Any) -> tuple[Any, int]:
    """What ``unit()`` returned and the socket writes it took, once its statements are
    prepared on the connection (a first use also sends Parse / Describe)."""
    await unit()
    before = wire.writes
    result = await unit()
    return result, wire.writes - before


def _number(s: Session) -> str | None:
    order = s.scalar(by_number_query("a1001"))
    return order.number if order is not None else None


@pytest.mark.postgres
async def test_a_one_statement_read_is_one_round_trip(pg: tuple[Database, Wire]) -> None:
    db, wire = pg
    found, writes = await _writes(wire, lambda: db.run(_number, write=False))
    assert found == "A1001" and writes == 1
    # what it saves: a transaction around the same read is BEGIN, the query and ROLLBACK
    found, writes = await _writes(wire, lambda: db.run(_number, write=False, snapshot=True))
    assert found == "A1001" and writes == 3


@pytest.mark.postgres
async def test_the_order_lookups_of_a_turn_are_one_round_trip_each(
    pg: tuple[Database, Wire],
) -> None:
    db, wire = pg
    orders = SqlOrderBackend(db)
    found, writes = await _writes(wire, lambda: orders.get("a1001"))
    assert found is not None and found.status == "shipped" and writes == 1
    async with db.transaction() as s:
        customer, _ = await CustomerRepository(s).resolve_identity(
            "telegram", "reader", now=utcnow()
        )
    mine, writes = await _writes(wire, lambda: orders.for_customer(customer.id))
    assert [o.number for o in mine] == ["A1001"] and writes == 1


@pytest.mark.postgres
async def test_a_snapshot_read_is_read_only_and_leaves_the_connection_as_it_was(
    pg: tuple[Database, Wire],
) -> None:
    """A snapshot read's statements are one read-only REPEATABLE READ transaction; the pooled
    connection goes back to the pool as the writers expect it."""
    db, _ = pg

    def seen(s: Session) -> tuple[Any, ...]:
        level = s.scalar(text("SELECT current_setting('transaction_isolation')"))
        return level, s.scalar(text("SELECT current_setting('transaction_read_only')"))

    assert await db.run(seen, write=False) == ("read committed", "off")
    level, read_only = await db.run(seen, write=False, snapshot=True)
    assert level == "repeatable read" and read_only == "on"
    # a write unit after it (on the same pooled connections) is no snapshot, and writes
    async with db.transaction() as s:
        level = await s.scalar(text("SELECT current_setting('transaction_isolation')"))
        await OrderRepository(s).add("A1002", status="new")
    assert level == "read committed"
    assert await db.run(lambda s: s.scalar(select(func.count(Order.id))), write=False) == 2


def _add_order_elsewhere(url: str, number: str) -> None:
    """Commit an order through a Database of its own, on a thread of its own (blocking)."""

    async def add() -> None:
        other = Database(url)
        try:
            async with other.transaction() as s:
                await OrderRepository(s).add(number, status="new")
        finally:
            await other.dispose()

    run_in_thread(lambda: asyncio.run(add()))


async def test_a_snapshot_read_sees_one_state_of_the_database(database_url: str) -> None:
    """An order committed between two statements of a read: a plain read's second statement
    sees it, a snapshot read's does not (both backends)."""
    db = Database(database_url)
    try:

        def counts(number: str) -> Any:
            def work(s: Session) -> tuple[int, int]:
                before = int(s.scalar(select(func.count(Order.id))) or 0)
                _add_order_elsewhere(database_url, number)
                return before, int(s.scalar(select(func.count(Order.id))) or 0)

            return work

        assert await db.run(counts("B1"), write=False) == (0, 1)
        assert await db.run(counts("B2"), write=False, snapshot=True) == (1, 1)
        assert await db.run(lambda s: s.scalar(select(func.count(Order.id))), write=False) == 2
    finally:
        await db.dispose()
