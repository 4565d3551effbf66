"""Services, staff, free slots and bookings on SQLite and PostgreSQL, including races."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest

from storage.booking_errors import BookingNotFound, InvalidSlot, SlotTaken, UnknownService
from storage.db import Database
from storage.errors import Conflict
from storage.repositories import (
    AvailabilityRepository,
    BookingRepository,
    CustomerRepository,
    OrderRepository,
    ServiceRepository,
    StaffRepository,
)

# Wednesday 25 March 2026, 10:00 in Kyiv (UTC+2 until Sunday 29 March, UTC+3 after).
NOW = dt.datetime(2026, 3, 25, 8, 0, tzinfo=dt.UTC)
THU = dt.date(2026, 3, 26)
SPLIT = {d: [["09:00", "13:00"], ["14:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
SPLIT["sat"] = [["10:00", "14:00"]]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


async def clinic(db: Database) -> dict[str, int]:
    """Two services, two staff: Olena (split shift, both skills), Taras (consultations only)."""
    async with db.transaction() as s:
        services = ServiceRepository(s)
        await services.add(
            "cleaning", name_uk="Чистка", name_en="Cleaning", duration_minutes=60, price=1200
        )
        await services.add(
            "consultation",
            name_uk="Консультація",
            name_en="Consultation",
            duration_minutes=30,
            price="450.50",
        )
        await services.add(
            "retired", name_uk="Стара", name_en="Old", duration_minutes=30, price=1, active=False
        )
        staff = StaffRepository(s)
        olena = await staff.add("Olena", skills=["cleaning", "consultation"], working_hours=SPLIT)
        taras = await staff.add(
            "Taras", skills=["consultation"], working_hours={"thu": [["15:00", "17:00"]]}
        )
        return {"olena": olena.id, "taras": taras.id}


async def book(db: Database, service: str, staff_id: int, at: dt.datetime, **kw: object) -> str:
    async with db.transaction() as s:
        booking = await BookingRepository(s).book(service, staff_id, at, now=NOW, **kw)  # type: ignore[arg-type]
        return booking.reference


async def free(db: Database, service: str, day: dt.date = THU, **kw: object) -> list[dt.datetime]:
    async with db.session() as s:
        kw.setdefault("now", NOW)
        slots = await AvailabilityRepository(s).free_slots(service, day, day, **kw)  # type: ignore[arg-type]
        return [slot.starts_at for slot in slots]


async def test_services_and_staff_for_a_service(db: Database) -> None:
    ids = await clinic(db)
    async with db.session() as s:
        services = await ServiceRepository(s).list_active()
        assert [x.code for x in services] == ["cleaning", "consultation"]
        assert services[1].price == Decimal("450.50")
        assert (await ServiceRepository(s).by_code(" Cleaning ")) is not None
        assert await ServiceRepository(s).by_code("retired") is None
        staff = StaffRepository(s)
        assert [x.id for x in await staff.for_service("consultation")] == [
            ids["olena"],
            ids["taras"],
        ]
        assert [x.name for x in await staff.for_service("cleaning")] == ["Olena"]
        olena = await staff.get(ids["olena"])
        assert olena is not None and olena.timezone == "Europe/Kyiv"


async def test_free_slots_follow_a_split_shift(db: Database) -> None:
    ids = await clinic(db)
    cleaning = await free(db, "cleaning")
    assert len(cleaning) == 14  # 09:00..12:00 and 14:00..17:00 local, every 30 minutes
    assert cleaning[0] == utc(2026, 3, 26, 7) and cleaning[-1] == utc(2026, 3, 26, 15)
    assert utc(2026, 3, 26, 10, 30) not in cleaning  # 12:30 local would run into lunch
    consult = await free(db, "consultation", staff_id=ids["taras"])
    assert consult == [
        utc(2026, 3, 26, 13),
        utc(2026, 3, 26, 13, 30),
        utc(2026, 3, 26, 14),
        utc(2026, 3, 26, 14, 30),
    ]
    both = await free(db, "consultation")
    assert both == sorted(both) and len(both) == 16 + 4


async def test_free_slots_minus_bookings_and_never_in_the_past(db: Database) -> None:
    ids = await clinic(db)
    await book(db, "cleaning", ids["olena"], utc(2026, 3, 26, 8))  # 10:00-11:00 local
    cleaning = await free(db, "cleaning")
    for gone in (utc(2026, 3, 26, 7, 30), utc(2026, 3, 26, 8), utc(2026, 3, 26, 8, 30)):
        assert gone not in cleaning
    assert utc(2026, 3, 26, 7) in cleaning and utc(2026, 3, 26, 9) in cleaning
    consult = await free(db, "consultation", staff_id=ids["olena"])
    assert utc(2026, 3, 26, 8, 30) not in consult and utc(2026, 3, 26, 7, 30) in consult
    later = await free(db, "cleaning", now=utc(2026, 3, 26, 9, 10))
    assert later[0] == utc(2026, 3, 26, 9, 30)
    assert await free(db, "cleaning", day=dt.date(2026, 3, 24)) == []  # yesterday


async def test_free_slots_across_the_dst_change(db: Database) -> None:
    await clinic(db)
    saturday = await free(db, "cleaning", day=dt.date(2026, 3, 28))
    monday = await free(db, "cleaning", day=dt.date(2026, 3, 30))
    assert saturday[0] == utc(2026, 3, 28, 8)  # 10:00 at UTC+2
    assert monday[0] == utc(2026, 3, 30, 6)  # 09:00 at UTC+3
    assert await free(db, "cleaning", day=dt.date(2026, 3, 29)) == []  # Sunday


async def test_nearest_skips_taken_and_closed_times(db: Database) -> None:
    ids = await clinic(db)
    friday_5pm = utc(2026, 3, 27, 15)  # 17:00 local
    await book(db, "consultation", ids["olena"], friday_5pm)
    async with db.session() as s:
        nearest = await AvailabilityRepository(s).nearest(
            "consultation", friday_5pm, now=NOW, limit=3
        )
    assert [x.starts_at for x in nearest] == [
        utc(2026, 3, 27, 15, 30),
        utc(2026, 3, 28, 8),  # Saturday 10:00
        utc(2026, 3, 28, 8, 30),
    ]
    async with db.session() as s:
        first = await AvailabilityRepository(s).nearest(
            "consultation", NOW - dt.timedelta(days=9), now=NOW, limit=1
        )
    assert first[0].starts_at == NOW  # never in the past
    async with db.session() as s:
        with pytest.raises(UnknownService):
            await AvailabilityRepository(s).nearest("surgery", NOW, now=NOW)


async def test_book_cancel_and_book_again(db: Database) -> None:
    ids = await clinic(db)
    customer_id = await _customer(db)
    at = utc(2026, 3, 26, 8)
    ref = await book(
        db,
        "cleaning",
        ids["olena"],
        at,
        customer_id=customer_id,
        name="Iryna",
        phone="+380501112233",
    )
    assert ref.startswith("BK-") and len(ref) == 9
    with pytest.raises(SlotTaken):
        await book(db, "consultation", ids["olena"], at + dt.timedelta(minutes=30))
    async with db.session() as s:
        found = await BookingRepository(s).by_reference(ref.lower())
        assert found is not None and (found.starts_at, found.ends_at) == (
            at,
            at + dt.timedelta(hours=1),
        )
        upcoming = await BookingRepository(s).upcoming_for_customer(customer_id, NOW)
        assert [b.reference for b in upcoming] == [ref]
    async with db.transaction() as s:
        cancelled = await BookingRepository(s).cancel(ref, now=NOW)
        assert cancelled.status == "cancelled"
    async with db.transaction() as s:
        assert (await BookingRepository(s).cancel(ref, now=NOW)).status == "cancelled"
        assert await BookingRepository(s).upcoming_for_customer(customer_id, NOW) == []
    assert at in await free(db, "cleaning")
    await book(db, "consultation", ids["olena"], at)
    async with db.transaction() as s:
        with pytest.raises(BookingNotFound):
            await BookingRepository(s).cancel("BK-NOPE22")
        with pytest.raises(BookingNotFound):
            await BookingRepository(s).cancel(10_000)


async def test_reschedule_releases_the_old_time_only_on_success(db: Database) -> None:
    ids = await clinic(db)
    first, blocker = utc(2026, 3, 26, 8), utc(2026, 3, 26, 10)
    ref = await book(db, "cleaning", ids["olena"], first)
    await book(db, "consultation", ids["olena"], blocker)
    with pytest.raises(SlotTaken):
        async with db.transaction() as s:
            await BookingRepository(s).reschedule(ref, blocker - dt.timedelta(minutes=30), now=NOW)
    assert first not in await free(db, "cleaning")  # still held
    async with db.transaction() as s:  # half an hour later, overlapping its own old time
        moved = await BookingRepository(s).reschedule(
            ref, first + dt.timedelta(minutes=30), now=NOW
        )
        assert moved.ends_at == first + dt.timedelta(minutes=90)
    cleaning = await free(db, "cleaning")
    assert (
        first - dt.timedelta(minutes=30) in cleaning
        and first + dt.timedelta(minutes=30) not in cleaning
    )
    async with db.transaction() as s:
        booking_id = (await BookingRepository(s).reschedule(ref, first, now=NOW)).id
    async with db.transaction() as s:
        assert (await BookingRepository(s).cancel(booking_id)).reference == ref
    with pytest.raises(Conflict):
        async with db.transaction() as s:
            await BookingRepository(s).reschedule(ref, first, now=NOW)


@pytest.mark.parametrize(
    ("service", "who", "at", "error"),
    [
        ("cleaning", "olena", utc(2026, 3, 25, 7), InvalidSlot),  # an hour ago
        ("cleaning", "olena", utc(2026, 3, 26, 10, 30), InvalidSlot),  # runs into lunch
        ("cleaning", "olena", utc(2026, 3, 29, 9), InvalidSlot),  # Sunday
        ("cleaning", "taras", utc(2026, 3, 26, 13), InvalidSlot),  # not his skill
        ("retired", "olena", utc(2026, 3, 26, 8), UnknownService),
    ],
)
async def test_book_refuses_impossible_times(
    db: Database, service: str, who: str, at: dt.datetime, error: type[Exception]
) -> None:
    ids = await clinic(db)
    with pytest.raises(error):
        await book(db, service, ids[who], at)


async def test_two_customers_racing_for_one_slot_on_separate_engines(database_url: str) -> None:
    """Separate `Database` objects (engines, pools, in-process locks): only the database
    itself can decide, and exactly one of the overlapping bookings wins."""
    databases = [Database(database_url) for _ in range(4)]
    try:
        ids = await clinic(databases[0])
        at = utc(2026, 3, 26, 8)
        attempts = [
            book(
                d,
                "cleaning" if i % 2 else "consultation",
                ids["olena"],
                at + dt.timedelta(minutes=30 * (1 - i % 2)),  # 10:30 consult, 10:00 cleaning
                name=f"c{i}",
            )
            for i, d in enumerate(databases * 2)
        ]
        results = await asyncio.gather(*attempts, return_exceptions=True)
        won = [r for r in results if isinstance(r, str)]
        lost = [r for r in results if isinstance(r, SlotTaken)]
        assert len(won) == 1 and len(lost) == len(results) - 1, results
        async with databases[1].session() as s:
            repo = BookingRepository(s)
            assert (await repo.by_reference(won[0])) is not None
    finally:
        for d in databases:
            await d.dispose()


async def test_reschedule_racing_a_new_booking(database_url: str) -> None:
    a, b = Database(database_url), Database(database_url)
    try:
        ids = await clinic(a)
        ref = await book(a, "consultation", ids["olena"], utc(2026, 3, 26, 7))
        target = utc(2026, 3, 26, 9)

        async def move() -> str:
            async with a.transaction() as s:
                return (await BookingRepository(s).reschedule(ref, target, now=NOW)).reference

        results = await asyncio.gather(
            move(), book(b, "consultation", ids["olena"], target), return_exceptions=True
        )
        assert sum(isinstance(r, str) for r in results) == 1, results
        assert sum(isinstance(r, SlotTaken) for r in results) == 1
    finally:
        await a.dispose()
        await b.dispose()


async def test_two_reschedules_swapping_times_both_fail(database_url: str) -> None:
    """Each wants the time the other holds: neither may take it, whichever order the database
    sees them in (on PostgreSQL this may be a deadlock, reported as `SlotTaken` too)."""
    a, b = Database(database_url), Database(database_url)
    try:
        ids = await clinic(a)
        x, y = utc(2026, 3, 26, 7), utc(2026, 3, 26, 8)
        ref_x = await book(a, "cleaning", ids["olena"], x)
        ref_y = await book(b, "cleaning", ids["olena"], y)

        async def move(db: Database, ref: str, to: dt.datetime) -> None:
            async with db.transaction() as s:
                await BookingRepository(s).reschedule(ref, to, now=NOW)

        results = await asyncio.gather(move(a, ref_x, y), move(b, ref_y, x), return_exceptions=True)
        assert all(isinstance(r, SlotTaken) for r in results), results
        async with a.session() as s:
            repo = BookingRepository(s)
            assert [(await repo.by_reference(r)).starts_at for r in (ref_x, ref_y)] == [x, y]  # type: ignore[union-attr]
    finally:
        await a.dispose()
        await b.dispose()


async def test_order_status_history(db: Database) -> None:
    async with db.transaction() as s:
        repo = OrderRepository(s)
        order = await repo.add("z9001", status="new", now=NOW)
        assert order.status_history == [{"status": "new", "at": NOW.isoformat()}]
        later = NOW + dt.timedelta(hours=2)
        await repo.set_status("Z9001", "paid", now=later)
        assert await repo.set_status("Z0000", "paid") is None
    async with db.session() as s:
        again = await OrderRepository(s).by_number("z9001")
        assert again is not None and again.status == "paid"
        assert [h["status"] for h in again.status_history] == ["new", "paid"]


async def _customer(db: Database) -> int:
    async with db.transaction() as s:
        customer, _ = await CustomerRepository(s).resolve_identity("telegram", "777", now=NOW)
        return customer.id
