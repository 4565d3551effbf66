"""`seed_demo`: the demo shop and clinic, idempotent, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bots.demo import DEMO_BOOKINGS, DEMO_ORDERS, DEMO_SERVICES, DEMO_STAFF, seed_demo
from bots.flows.backends import SqlBookingBackend, SqlOrderBackend
from storage.db import Database
from storage.models import Booking, Order, Service, Staff

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)  # a Friday
STATUSES = {"new", "paid", "packed", "shipped", "delivered", "cancelled", "returned"}


async def _count(db: Database, model: type) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_seed_is_idempotent_and_complete(db: Database) -> None:
    expected = len(DEMO_ORDERS) + len(DEMO_SERVICES) + len(DEMO_STAFF) + len(DEMO_BOOKINGS)
    assert await seed_demo(db, now=NOW) == expected
    assert await seed_demo(db, now=NOW) == 0
    assert await seed_demo(db) == 0
    assert [await _count(db, m) for m in (Order, Service, Staff, Booking)] == [
        len(DEMO_ORDERS), len(DEMO_SERVICES), len(DEMO_STAFF), len(DEMO_BOOKINGS)
    ]  # fmt: skip

    orders = SqlOrderBackend(db)
    seen = set()
    for number, status, _items, _eta, tracking in DEMO_ORDERS:
        order = await orders.get(number)
        assert order is not None and order.status == status
        assert order.status_history[0]["status"] == "new"
        assert order.status_history[-1]["status"] == status
        assert order.tracking_number == tracking
        if status == "shipped":
            assert order.eta is not None and order.eta > NOW and order.tracking_number
        seen.add(status)
    assert seen == STATUSES


async def test_demo_clinic_has_bookings_and_free_time(db: Database) -> None:
    await seed_demo(db, now=NOW)
    backend = SqlBookingBackend(db, clock=lambda: NOW)
    services = await backend.services()
    assert {s.code for s in services} == {code for code, *_ in DEMO_SERVICES}
    assert all(30 <= s.duration_minutes <= 90 and s.price > 0 for s in services)
    for service in services:
        [first, *_] = await backend.nearest(service.code, NOW, limit=3)
        assert first.starts_at >= NOW
    for ref, service_code, staff_name, *_ in DEMO_BOOKINGS:
        booking = await backend.get(ref)
        assert booking is not None and booking.status == "confirmed"
        assert booking.starts_at > NOW and booking.staff_name == staff_name
        assert booking.service_code == service_code


async def test_seed_backfills_history_of_older_orders(db: Database) -> None:
    await seed_demo(db, now=NOW)
    async with db.transaction() as s:
        order = await s.scalar(select(Order).where(Order.number == "A1005"))
        assert order is not None
        order.status_history = []
    assert await seed_demo(db, now=NOW) == 0
    again = await SqlOrderBackend(db).get("A1005")
    assert again is not None and [h["status"] for h in again.status_history] == [
        "new", "paid", "packed"
    ]  # fmt: skip
