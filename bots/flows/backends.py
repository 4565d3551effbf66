"""The business side the flows talk to, as small protocols with a built-in SQL implementation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from storage.db import Database
from storage.repositories.orders import OrderRepository


@dataclass(frozen=True, slots=True)
class OrderView:
    number: str
    status: str
    items: list[dict[str, Any]]
    eta: datetime | None
    tracking_number: str | None


class OrderBackend(Protocol):
    async def get(self, number: str) -> OrderView | None: ...

    async def for_customer(self, customer_id: int) -> list[OrderView]: ...


class SqlOrderBackend:
    """Orders kept in omnirelay's own database (the demo shop, or a business without a system)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, number: str) -> OrderView | None:
        async with self._db.session() as s:
            order = await OrderRepository(s).by_number(number)
            return _view(order) if order is not None else None

    async def for_customer(self, customer_id: int) -> list[OrderView]:
        async with self._db.session() as s:
            return [_view(o) for o in await OrderRepository(s).for_customer(customer_id)]


def _view(order: Any) -> OrderView:
    return OrderView(
        number=order.number,
        status=order.status,
        items=list(order.items or []),
        eta=order.eta,
        tracking_number=order.tracking_number,
    )
