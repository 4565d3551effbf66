"""A customer's orders: under their id, or with one of their verified phones and no customer id.
The phone branch is searched by (phone, customer_id) (migration 0017), not by every unlinked
order: a shop's unlinked orders are most of its orders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from storage.db import Database
from storage.models import CustomerPhone
from storage.repositories import CustomerRepository, OrderRepository
from storage.repositories.orders import for_customer_query
from tests.storage.plans import sqlite_plan

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
PHONE = "+380501112233"


async def test_orders_by_id_and_by_verified_phone_only(db: Database) -> None:
    async with db.transaction() as s:
        customers = CustomerRepository(s)
        customer, _ = await customers.resolve_identity("telegram", "lookup-1", now=NOW)
        stranger, _ = await customers.resolve_identity("telegram", "lookup-2", now=NOW)
        s.add(CustomerPhone(customer_id=customer.id, phone=PHONE, verified=True))
        s.add(CustomerPhone(customer_id=customer.id, phone="+380509999999", verified=False))
        orders = OrderRepository(s)
        for n in range(40):  # other people's orders, placed without an account
            await orders.add(f"U{n}", phone=f"+38067{n:07d}", now=NOW)
        await orders.add("MINE1", customer_id=customer.id, now=NOW)
        await orders.add("MINE2", phone=PHONE, now=NOW + dt.timedelta(hours=1))
        await orders.add("NOTMINE", phone="+380509999999", now=NOW)  # an unverified phone
        await orders.add("LINKED", phone=PHONE, customer_id=stranger.id, now=NOW)
    async with db.session() as s:
        found = await OrderRepository(s).for_customer(customer.id)
    assert [o.number for o in found] == ["MINE2", "MINE1"]


async def test_the_phone_branch_is_searched_by_phone(
    _sqlite_template: Path, tmp_path: Path
) -> None:
    """On SQLite (PostgreSQL plans by its statistics; the rows above are checked on both)."""
    plan = await sqlite_plan(_sqlite_template, tmp_path, for_customer_query(5))
    searches = [step for step in plan if step.startswith("SEARCH orders")]
    by_phone = "ix_orders_phone_customer_id (phone=? AND customer_id=?)"
    assert len(searches) == 2 and any(by_phone in step for step in searches), plan
