"""Profiles that exist before a cross-channel script starts (`customers: {alias: {known_on: C,
...}}`): a customer known on one channel, with a phone verified there, orders and bookings."""

from __future__ import annotations

from typing import Any

from bots.flows.backends import SqlBookingBackend
from storage.db import Database
from storage.repositories import OrderRepository
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import IdentityRepository
from tests.conversations.runner import FROZEN_NOW, local


async def seed_known_customer(
    db: Database, channel: str, external_id: str, spec: dict[str, Any]
) -> None:
    """The customer of ``spec`` behind ``external_id`` on ``channel``, as the script says."""
    async with db.transaction() as s:
        customer, _ = await CustomerRepository(s).resolve_identity(
            channel,
            external_id,
            display_name=spec.get("name"),
            language=spec.get("language"),
            now=FROZEN_NOW,
        )
        if spec.get("phone"):
            await IdentityRepository(s).add_phone(
                customer.id, spec["phone"], verified=True, via=channel, now=FROZEN_NOW
            )
        for order in spec.get("orders") or []:
            await OrderRepository(s).add(
                order["number"],
                status=order.get("status", "paid"),
                items=order.get("items") or [{"name": "Electric toothbrush", "qty": 1}],
                # `by_phone: true`: taken by phone, with no customer id
                customer_id=None if order.get("by_phone") else customer.id,
                phone=spec.get("phone"),
                tracking_number=order.get("tracking"),
                now=FROZEN_NOW,
            )
        customer_id = customer.id
    backend = SqlBookingBackend(db, clock=lambda: FROZEN_NOW)
    for booking in spec.get("bookings") or []:
        await backend.book(
            booking["service"],
            local(booking["at"]),
            customer_id=customer_id,
            name=spec.get("name") or "Test Customer",
            phone=spec.get("phone") or "+380500000000",
        )
