"""Shop orders (demo data behind the order-status flow).

A customer's orders are those placed under their id, and those placed with one of their
VERIFIED phones and no customer id (a shop order taken by phone): an unverified phone is only
what somebody typed, and finds nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CustomerPhone, Order, utcnow

__all__ = ["OrderRepository", "history_entry"]


def normalise_number(number: str) -> str:
    """Order numbers are stored upper-case without surrounding blanks ("a1001 " -> "A1001")."""
    return number.strip().upper()


def by_number_query(number: str) -> Select[Order]:
    """The query for one order by number (case-insensitive); for sync and async sessions."""
    return select(Order).where(Order.number == normalise_number(number))


class OrderRepository:
    """Looks orders up by number or customer; adds them for demo seeding."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_number(self, number: str) -> Order | None:
        """The order with this number (case-insensitive), or None."""
        order: Order | None = await self.session.scalar(by_number_query(number))
        return order

    async def for_customer(self, customer_id: int) -> list[Order]:
        """The customer's orders (by id, or by a verified phone: the module docstring),
        newest first."""
        return list(await self.session.scalars(for_customer_query(customer_id)))

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
        status_history: list[dict[str, str]] | None = None,
        now: dt.datetime | None = None,
    ) -> Order:
        """Insert an order (flushes, so ``id`` is set).

        Without ``status_history`` the history is the current status, reached at ``now``.
        """
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
            status_history=(
                list(status_history) if status_history is not None else [history_entry(status, now)]
            ),
            created_at=now,
            updated_at=now,
        )
        self.session.add(order)
        await self.session.flush()
        return order

    async def set_status(
        self, number: str, status: str, *, now: dt.datetime | None = None
    ) -> Order | None:
        """Move an order to ``status`` and append it to the history; None for an unknown number."""
        order = await self.by_number(number)
        if order is None:
            return None
        now = now or utcnow()
        order.status = status
        # a new list, so the JSON column is seen as changed
        order.status_history = [*(order.status_history or []), history_entry(status, now)]
        order.updated_at = now
        await self.session.flush()
        return order


def history_entry(status: str, at: dt.datetime) -> dict[str, str]:
    """One ``status_history`` element: ``{"status": ..., "at": ISO 8601 UTC}``."""
    return {"status": status, "at": at.astimezone(dt.UTC).isoformat()}


def for_customer_query(customer_id: int) -> Select[Order]:
    """A customer's orders, newest first (for sync units of work too): placed under their id,
    or with one of their verified phones and no customer id."""
    verified = select(CustomerPhone.phone).where(
        CustomerPhone.customer_id == customer_id, CustomerPhone.verified.is_(True)
    )
    by_phone = and_(Order.customer_id.is_(None), Order.phone.in_(verified))
    return (
        select(Order)
        .where(or_(Order.customer_id == customer_id, by_phone))
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
