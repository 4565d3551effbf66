"""The booking and order backends: built-in SQL on SQLite and PostgreSQL, and the HTTP adapters
against a loopback fake of a business's own system (including its failures)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from bots.flows.backends import BookingBackend, OrderBackend, SqlBookingBackend, SqlOrderBackend
from bots.flows.http_backends import (
    BusinessSystemError,
    BusinessSystemUnavailable,
    HttpBookingBackend,
    HttpOrderBackend,
)
from storage.booking_errors import BookingNotFound, InvalidSlot, SlotTaken, UnknownService
from storage.db import Database
from storage.errors import BackendUnavailable, Conflict
from storage.models import Customer
from storage.repositories import ServiceRepository, StaffRepository
from tests.fakes.business import FakeBusiness

# Monday 6 July 2026, 09:00 in Kyiv (UTC+3)
NOW = dt.datetime(2026, 7, 6, 6, 0, tzinfo=dt.UTC)
HOURS = {d: [["09:00", "13:00"], ["14:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        async with database.transaction() as s:
            await ServiceRepository(s).add(
                "cleaning", name_uk="Чистка", name_en="Cleaning", duration_minutes=60, price=1500
            )
            staff = StaffRepository(s)
            await staff.add("Olena", skills=["cleaning"], working_hours=HOURS)
            await staff.add(
                "Iryna", skills=["cleaning"], working_hours={"mon": [["10:00", "12:00"]]}
            )
        yield database
    finally:
        await database.dispose()


async def test_sql_backend_books_any_free_staff_then_refuses(db: Database) -> None:
    backend: BookingBackend = SqlBookingBackend(db, clock=lambda: NOW)
    [service] = await backend.services()
    assert service.name("uk") == "Чистка" and service.price == Decimal("1500.00")
    ten = utc(2026, 7, 6, 7)  # 10:00 local: both work
    first = await backend.book("cleaning", ten, customer_id=None, name="A", phone="+380500000001")
    second = await backend.book("cleaning", ten, name="B")
    assert {first.staff_name, second.staff_name} == {"Olena", "Iryna"}
    with pytest.raises(SlotTaken):
        await backend.book("cleaning", ten, name="C")
    with pytest.raises(InvalidSlot):
        await backend.book("cleaning", utc(2026, 7, 6, 16), name="late")  # 19:00 local
    with pytest.raises(UnknownService):
        await backend.book("surgery", ten)
    nearest = await backend.nearest("cleaning", ten, limit=2)
    assert [s.starts_at for s in nearest] == [utc(2026, 7, 6, 8), utc(2026, 7, 6, 8, 30)]
    day = await backend.free_slots("cleaning", dt.date(2026, 7, 6), dt.date(2026, 7, 6))
    assert ten not in {s.starts_at for s in day} and day == sorted(day, key=lambda s: s.starts_at)


async def test_booking_a_time_one_already_holds_returns_that_booking(db: Database) -> None:
    """A turn run again (redelivered after a crash or a stalled worker's takeover) books
    nothing twice and tells the customer what one run would have."""
    backend = SqlBookingBackend(db, clock=lambda: NOW)
    async with db.transaction() as s:
        customer = Customer(display_name="Olha")
        s.add(customer)
        await s.flush()
        customer_id = customer.id
    ten = utc(2026, 7, 6, 7)
    first = await backend.book("cleaning", ten, customer_id=customer_id, name="Olha")
    again = await backend.book("cleaning", ten, customer_id=customer_id, name="Olha")
    assert again.reference == first.reference and again.staff_name == first.staff_name
    other = await backend.book("cleaning", ten, name="B")  # the other staff member is free
    assert other.reference != first.reference
    with pytest.raises(SlotTaken):
        await backend.book("cleaning", ten, name="C")
    assert len(await backend.upcoming_for_customer(customer_id)) == 1


async def test_sql_backend_cancel_reschedule_upcoming(db: Database) -> None:
    backend = SqlBookingBackend(db, clock=lambda: NOW)
    async with db.transaction() as s:
        from storage.repositories import CustomerRepository

        customer, _ = await CustomerRepository(s).resolve_identity("viber", "v-1", now=NOW)
    booked = await backend.book("cleaning", utc(2026, 7, 7, 6), staff_id=1, customer_id=customer.id)
    assert (await backend.get(booked.reference.lower())) == booked
    moved = await backend.reschedule(booked.reference, utc(2026, 7, 8, 11))
    assert moved.starts_at == utc(2026, 7, 8, 11) and moved.ends_at == utc(2026, 7, 8, 12)
    assert [b.reference for b in await backend.upcoming_for_customer(customer.id)] == [
        booked.reference
    ]
    assert utc(2026, 7, 7, 6) in {
        s.starts_at
        for s in await backend.free_slots("cleaning", dt.date(2026, 7, 7), dt.date(2026, 7, 7))
    }
    cancelled = await backend.cancel(booked.reference)
    assert cancelled.status == "cancelled"
    assert await backend.upcoming_for_customer(customer.id) == []
    with pytest.raises(BookingNotFound):
        await backend.cancel("BK-ZZZZZZ")
    assert await backend.get("BK-ZZZZZZ") is None


async def test_sql_backends_report_an_unreachable_database() -> None:
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(BackendUnavailable):
            await SqlBookingBackend(db).services()
        with pytest.raises(BackendUnavailable):
            await SqlOrderBackend(db).get("A1001")
    finally:
        await db.dispose()


# ---- HTTP adapters against the fake business system ---------------------------------------

MON_10 = utc(2026, 7, 6, 7)
TIMES = [MON_10, utc(2026, 7, 6, 8), utc(2026, 7, 7, 7)]


@pytest.fixture
async def business() -> AsyncIterator[FakeBusiness]:
    async with FakeBusiness(token="s3cret", times={"cleaning": TIMES}) as fake:
        fake.orders["A1001"] = {
            "number": "A1001", "status": "shipped", "items": [{"name": "Kettle", "qty": 1}],
            "eta": "2026-07-08T12:00:00+03:00", "tracking_number": "20450012345678",
            "total": "1899.00", "customer_id": 7,
            "status_history": [{"status": "new", "at": "2026-07-01T10:00:00+00:00"}],
        }  # fmt: skip
        yield fake


async def test_http_booking_happy_path_and_slot_taken(business: FakeBusiness) -> None:
    async with HttpBookingBackend(business.base_url, "s3cret") as http:
        backend: BookingBackend = http
        services = await backend.services()
        assert [s.code for s in services] == ["cleaning", "consultation"]
        slots = await backend.free_slots(
            "cleaning", dt.date(2026, 7, 6), dt.date(2026, 7, 6), now=NOW
        )
        assert len(slots) == 4 and slots[0].starts_at == MON_10
        booked = await backend.book("cleaning", MON_10, staff_id=1, customer_id=7, name="Iryna")
        assert booked.starts_at == MON_10 and booked.starts_at.tzinfo == dt.UTC
        assert (booked.staff_name, booked.status) == ("Olena", "confirmed")
        with pytest.raises(SlotTaken):
            await backend.book("cleaning", MON_10, staff_id=1)
        with pytest.raises(InvalidSlot):
            await backend.book("cleaning", utc(2026, 7, 6, 3))
        with pytest.raises(UnknownService):
            await backend.nearest("surgery", NOW, now=NOW)
        nearest = await backend.nearest("cleaning", NOW, limit=2, staff_id=1, now=NOW)
        assert [s.starts_at for s in nearest] == [utc(2026, 7, 6, 8), utc(2026, 7, 7, 7)]
        other = await backend.book("cleaning", utc(2026, 7, 6, 8), staff_id=1)
        with pytest.raises(SlotTaken):  # onto the other booking: the old time is kept
            await backend.reschedule(booked.reference, utc(2026, 7, 6, 8))
        moved = await backend.reschedule(booked.reference, utc(2026, 7, 7, 7))
        assert moved.starts_at == utc(2026, 7, 7, 7)
        assert [b.reference for b in await backend.upcoming_for_customer(7, now=NOW)] == [
            booked.reference
        ]
        assert (await backend.cancel(other.reference)).status == "cancelled"
        await backend.cancel(booked.reference)
        with pytest.raises(Conflict):
            await backend.reschedule(booked.reference, MON_10)
        with pytest.raises(BookingNotFound):
            await backend.cancel("EXT-9999")
        assert await backend.get("EXT-9999") is None
        assert (await backend.get(booked.reference)) is not None
    assert all(call[0] in ("GET", "POST") for call in business.calls)


async def test_http_orders(business: FakeBusiness) -> None:
    async with HttpOrderBackend(business.base_url + "/", token="s3cret") as http:
        backend: OrderBackend = http
        order = await backend.get("a1001")
        assert order is not None and order.eta == utc(2026, 7, 8, 9)
        assert order.total == Decimal("1899.00") and order.status_history[0]["status"] == "new"
        assert await backend.get("Z0000") is None
        assert [o.number for o in await backend.for_customer(7)] == ["A1001"]
        assert await backend.for_customer(8) == []


@pytest.mark.parametrize(
    ("mode", "error"),
    [("error", BusinessSystemUnavailable), ("garbage", BusinessSystemUnavailable)],
)
async def test_http_errors_are_typed(
    business: FakeBusiness, mode: str, error: type[Exception]
) -> None:
    business.mode = mode
    async with HttpBookingBackend(business.base_url, "s3cret") as backend:
        with pytest.raises(error):
            await backend.services()
        with pytest.raises(BackendUnavailable):  # what the flows catch for any outage
            await backend.book("cleaning", MON_10)
    async with HttpOrderBackend(business.base_url, "s3cret") as orders:
        with pytest.raises(error):
            await orders.get("A1001")


async def test_http_timeout_and_refused_connection(business: FakeBusiness) -> None:
    business.mode = "hang"
    async with HttpBookingBackend(business.base_url, "s3cret", timeout=0.2) as backend:
        with pytest.raises(BusinessSystemUnavailable, match="Timeout"):
            await backend.services()
    async with HttpOrderBackend("http://127.0.0.1:1", timeout=2) as orders:
        with pytest.raises(BusinessSystemUnavailable):
            await orders.get("A1001")


async def test_http_bad_token(business: FakeBusiness) -> None:
    async with HttpBookingBackend(business.base_url, "wrong") as backend:
        with pytest.raises(BusinessSystemError, match="401"):
            await backend.services()
    assert not isinstance(BusinessSystemError("x"), BackendUnavailable)


async def test_many_concurrent_http_bookings_of_one_slot(business: FakeBusiness) -> None:
    async with HttpBookingBackend(business.base_url, "s3cret") as backend:
        results = await asyncio.gather(
            *(backend.book("cleaning", MON_10, staff_id=2) for _ in range(5)),
            return_exceptions=True,
        )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert sum(isinstance(r, SlotTaken) for r in results) == 4
