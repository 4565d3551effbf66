"""Trial finding 4: after a web chat visitor (a typed, unverified phone) was joined to the
Telegram customer who shared their phone, the surviving profile's main phone, the one agents
see and call back, was the typed one. A merge now makes a verified phone the main one whichever
profile survives; the undo gives the survivor its own back. Both backends."""

from __future__ import annotations

import uuid

import pytest

from bots.messages import now_utc
from storage.models import Customer
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import IdentityRepository
from tests.identity.conftest import Stack

TYPED, SHARED, OTHER = "+380671112233", "+380959046736", "+380931110000"


async def _customer(stack: Stack, channel: str, name: str, phones: dict[str, bool]) -> int:
    now = now_utc()
    async with stack.db.transaction() as s:
        found, _ = await CustomerRepository(s).resolve_identity(
            channel, uuid.uuid4().hex, display_name=name, now=now
        )
        for phone, verified in phones.items():
            via = channel if verified else None
            await IdentityRepository(s).add_phone(
                found.id, phone, verified=verified, via=via, now=now
            )
        return int(found.id)


async def _phone(stack: Stack, customer_id: int) -> str | None:
    async with stack.db.session() as s:
        customer = await s.get(Customer, customer_id)
        assert customer is not None
        return customer.phone


@pytest.mark.parametrize("web_chat_survives", [True, False])
async def test_the_joined_profile_shows_the_verified_phone(
    stack: Stack, web_chat_survives: bool
) -> None:
    web = await _customer(stack, "webchat", "Іван", {TYPED: False})
    telegram = await _customer(stack, "telegram", "Bohdan", {OTHER: True, SHARED: True})
    async with stack.db.transaction() as s:  # Telegram's main phone: the one shared last
        telegram_row = await s.get(Customer, telegram)
        assert telegram_row is not None and telegram_row.phone == SHARED
    survivor, absorbed = (web, telegram) if web_chat_survives else (telegram, web)
    merge = await stack.identity.merge(
        survivor, absorbed, actor="link_code", reason="code", now=now_utc()
    )
    assert await _phone(stack, survivor) == SHARED
    await stack.identity.undo(merge.id, actor="admin", now=now_utc())
    assert await _phone(stack, survivor) == (TYPED if web_chat_survives else SHARED)
