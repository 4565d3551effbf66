"""`omnirelay demo seed`: a demo shop with orders in every status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.db import Database
from storage.repositories.orders import OrderRepository

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

# unit prices in UAH
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


async def seed_demo(db: Database, *, now: datetime | None = None) -> int:
    """Insert the demo orders that are not there yet; returns how many were added."""
    now = now or datetime.now(UTC)
    added = 0
    async with db.transaction() as s:
        repo = OrderRepository(s)
        for number, status, items, eta_days, tracking in DEMO_ORDERS:
            if await repo.by_number(number) is not None:
                continue
            await repo.add(
                number=number,
                status=status,
                items=items,
                total=sum(TOTALS.get(str(i["name"]), 0) * int(i["qty"]) for i in items),  # type: ignore[call-overload]
                eta=now + timedelta(days=eta_days) if eta_days is not None else None,
                tracking_number=tracking,
                phone=None,
                customer_id=None,
                now=now,
            )
            added += 1
    return added
