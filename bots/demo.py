"""`omnirelay demo seed`: a demo shop with orders in every status, and a dental and beauty
clinic with services, staff on different (some split) shifts and a few upcoming bookings.

Seeding is idempotent: rows are found by their natural key (order number, service code, staff
name, booking reference) and only the missing ones are added, so it can run on every start.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from storage.booking_errors import InvalidSlot, SlotTaken
from storage.db import Database
from storage.models import Order
from storage.repositories import (
    BookingRepository,
    OrderRepository,
    ServiceRepository,
    StaffRepository,
)
from storage.repositories.orders import history_entry

log = logging.getLogger(__name__)

# number, status, items, days until ETA (None: no ETA), tracking number
DEMO_ORDERS: list[tuple[str, str, list[dict[str, object]], int | None, str | None]] = [
    ("A1001", "shipped", [{"name": "Coffee grinder", "qty": 1}], 2, "20450012345678"),
    ("A1002", "delivered", [{"name": "Tea set", "qty": 1}], None, "20450087654321"),
    ("A1003", "paid", [{"name": "French press", "qty": 2}], 4, None),
    ("A1004", "new", [{"name": "Espresso cups", "qty": 6}], 6, None),
    ("A1005", "packed", [{"name": "Kettle", "qty": 1}], 3, None),
    ("A1006", "cancelled", [{"name": "Milk frother", "qty": 1}], None, None),
    ("A1007", "returned", [{"name": "Scale", "qty": 1}], None, "20450011112222"),
    ("A1008", "shipped", [{"name": "Beans 1 kg", "qty": 3}], 1, "20450033334444"),
]

# unit prices in UAH, by the item's English name
TOTALS = {
    "Coffee grinder": 2499,
    "Tea set": 1299,
    "French press": 649,
    "Espresso cups": 189,
    "Kettle": 1899,
    "Milk frother": 799,
    "Scale": 999,
    "Beans 1 kg": 899,
}
# the items' names in Ukrainian (orders keep {"en": ..., "uk": ...}; replies use the customer's)
ITEM_NAMES_UK = {
    "Coffee grinder": "Кавомолка",
    "Tea set": "Чайний сервіз",
    "French press": "Френч-прес",
    "Espresso cups": "Чашки для еспресо",
    "Kettle": "Чайник",
    "Milk frother": "Спінювач молока",
    "Scale": "Ваги",
    "Beans 1 kg": "Кавові зерна, 1 кг",
}

_LIFECYCLE = ["new", "paid", "packed", "shipped", "delivered"]

# code, Ukrainian name, English name, minutes, price in UAH
DEMO_SERVICES: list[tuple[str, str, str, int, str]] = [
    ("consultation", "Консультація стоматолога", "Dental consultation", 30, "400"),
    ("cleaning", "Професійна чистка зубів", "Professional teeth cleaning", 60, "1500"),
    ("filling", "Пломбування зуба", "Tooth filling", 60, "1800"),
    ("whitening", "Відбілювання зубів", "Teeth whitening", 90, "4500"),
    ("facial", "Чистка обличчя", "Facial cleansing", 75, "1200"),
]

_WEEKDAYS_MON_FRI = ("mon", "tue", "wed", "thu", "fri")


_SPLIT_9_18 = [["09:00", "13:00"], ["14:00", "18:00"]]
# name per language (English is also the natural key), skills, working hours (Kyiv wall clock)
DEMO_STAFF: list[tuple[dict[str, str], list[str], dict[str, list[list[str]]]]] = [
    (
        {"en": "Dr. Olena Kovalenko", "uk": "Олена Коваленко"},
        ["consultation", "cleaning", "filling"],
        {**{d: _SPLIT_9_18 for d in _WEEKDAYS_MON_FRI}, "sat": [["10:00", "14:00"]]},
    ),
    (
        {"en": "Dr. Andrii Melnyk", "uk": "Андрій Мельник"},
        ["consultation", "filling", "whitening"],
        {
            "mon": [["12:00", "20:00"]],
            "tue": [["08:00", "12:00"], ["16:00", "20:00"]],
            "wed": [["12:00", "20:00"]],
            "thu": [["08:00", "12:00"], ["16:00", "20:00"]],
            "fri": [["12:00", "20:00"]],
            "sat": [["09:00", "15:00"]],
        },
    ),
    (
        {"en": "Iryna Shevchenko", "uk": "Ірина Шевченко"},
        ["cleaning", "whitening"],
        {d: [["10:00", "19:00"]] for d in (*_WEEKDAYS_MON_FRI, "sat")},
    ),
    (
        {"en": "Maria Bondar", "uk": "Марія Бондар"},
        ["facial"],
        {d: [["11:00", "15:00"], ["16:00", "20:00"]] for d in ("tue", "wed", "thu", "fri", "sat")},
    ),
]

# reference, service, staff name, days from today, local time, customer name, phone
DEMO_BOOKINGS: list[tuple[str, str, str, int, str, str, str]] = [
    ("BK-DEMO01", "cleaning", "Dr. Olena Kovalenko", 1, "10:00", "Oksana Lysenko", "+380501234501"),
    ("BK-DEMO02", "consultation", "Dr. Andrii Melnyk", 1, "17:00", "Petro Bilyk", "+380671234502"),
    ("BK-DEMO03", "whitening", "Iryna Shevchenko", 2, "11:00", "Kateryna Ivanova", "+380931234503"),
    ("BK-DEMO04", "facial", "Maria Bondar", 3, "16:00", "Sofiia Marchenko", "+380661234504"),
]  # fmt: skip

CLINIC_TZ = ZoneInfo("Europe/Kyiv")


async def seed_demo(db: Database, *, now: datetime | None = None) -> int:
    """Insert whatever demo rows are missing (orders, services, staff, bookings); returns how
    many rows were added. Orders seeded before status history existed get one."""
    now = now or datetime.now(UTC)
    added = await _seed_orders(db, now)
    added += await _seed_clinic(db)
    added += await _seed_bookings(db, now)
    return added


def _history(status: str, now: datetime) -> list[dict[str, str]]:
    if status == "cancelled":
        path = ["new", "cancelled"]
    elif status == "returned":
        path = [*_LIFECYCLE, "returned"]
    else:
        path = _LIFECYCLE[: _LIFECYCLE.index(status) + 1]
    start = now - timedelta(days=len(path))
    return [history_entry(s, start + timedelta(days=i, hours=i * 3)) for i, s in enumerate(path)]


async def _seed_orders(db: Database, now: datetime) -> int:
    added = 0
    async with db.transaction() as s:
        repo = OrderRepository(s)
        for number, status, english, eta_days, tracking in DEMO_ORDERS:
            items = _localised(english)
            existing: Order | None = await repo.by_number(number)
            history = _history(status, now)
            if existing is not None:
                if not existing.status_history:
                    existing.status_history = history
                if existing.items == english:  # seeded before names per language existed
                    existing.items = items
                continue
            await repo.add(
                number=number,
                status=status,
                items=items,
                total=_total(items),
                eta=now + timedelta(days=eta_days) if eta_days is not None else None,
                tracking_number=tracking,
                status_history=history,
                now=datetime.fromisoformat(history[0]["at"]),
            )
            added += 1
    return added


def _localised(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The demo items with their names in English and Ukrainian."""
    uk = ITEM_NAMES_UK
    return [{**i, "name": {"en": i["name"], "uk": uk.get(i["name"], i["name"])}} for i in items]


def _name_en(name: Any) -> str:
    return str(name.get("en")) if isinstance(name, dict) else str(name)


def _total(items: list[dict[str, Any]]) -> Decimal:
    return Decimal(sum(TOTALS.get(_name_en(i["name"]), 0) * int(i["qty"]) for i in items))


async def _seed_clinic(db: Database) -> int:
    added = 0
    async with db.transaction() as s:
        services = ServiceRepository(s)
        for code, name_uk, name_en, minutes, price in DEMO_SERVICES:
            if await services.by_code(code, active_only=False) is None:
                await services.add(
                    code, name_uk=name_uk, name_en=name_en, duration_minutes=minutes, price=price
                )
                added += 1
        staff = StaffRepository(s)
        for names, skills, hours in DEMO_STAFF:
            member = await staff.by_name(names["en"])
            if member is None:
                await staff.add(names["en"], skills=skills, working_hours=hours, names=names)
                added += 1
            elif not member.names:  # seeded before names per language existed
                member.names = dict(names)
    return added


async def _seed_bookings(db: Database, now: datetime) -> int:
    added = 0
    today = now.astimezone(CLINIC_TZ).date()
    for ref, service, staff_name, days, at, name, phone in DEMO_BOOKINGS:
        async with db.session() as s:
            if await BookingRepository(s).by_reference(ref) is not None:
                continue
            member = await StaffRepository(s).by_name(staff_name)
        if member is None:
            continue
        for start in _candidates(today + timedelta(days=days), at):
            try:
                async with db.transaction() as s:
                    await BookingRepository(s).book(
                        service, member.id, start, now=now, name=name, phone=phone, reference=ref
                    )
            except (InvalidSlot, SlotTaken):
                continue  # a day off or a busy hour: try the next day
            added += 1
            break
        else:
            log.warning("demo booking %s found no free day", ref)
    return added


def _candidates(first: date, at: str) -> list[datetime]:
    """``at`` local time on ``first`` and the following week, as aware UTC datetimes."""
    wall = time.fromisoformat(at)
    return [
        datetime.combine(first + timedelta(days=i), wall, tzinfo=CLINIC_TZ).astimezone(UTC)
        for i in range(7)
    ]
