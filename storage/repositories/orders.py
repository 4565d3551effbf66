"""Shop orders (demo data behind the order-status flow)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Order, utcnow

__all__ = ["OrderRepository"]


def normalise_number(number: str) -> str:
    """Order numbers are stored upper-case without surrounding blanks ("a1001 " -> "A1001")."""
    return number.strip().upper()


class OrderRepository:
    """Looks orders up by number or customer; adds them for demo seeding."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_number(self, number: str) -> Order | None:
        """The order with this number (case-insensitive), or None."""
        return await self.session.scalar(
            select(Order).where(Order.number == normalise_number(number))
        )

    async def for_customer(self, customer_id: int) -> list[Order]:
        """The customer's orders, newest first."""
        rows = await self.session.scalars(
            select(Order)
            .where(Order.customer_id == customer_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
        )
        return list(rows)

    async def add(
        self,
        number: str,
        *,
        status: str = "new",
        items: list[Any] | None = None,
        total: Decimal | int | str = Decimal("0"),
        customer_id: int | None = None,
        phone: str | None = None,
        eta: dt.datetime | None = None,
        tracking_number: str | None = None,
        now: dt.datetime | None = None,
    ) -> Order:
        """Insert an order (flushes, so ``id`` is set)."""
        now = now or utcnow()
        order = Order(
            number=normalise_number(number),
            status=status,
            items=items or [],
            total=Decimal(total),
            customer_id=customer_id,
            phone=phone,
            eta=eta,
            tracking_number=tracking_number,
            created_at=now,
            updated_at=now,
        )
        self.session.add(order)
        await self.session.flush()
        return order
