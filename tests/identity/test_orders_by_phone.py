"""A known customer's orders include those placed with one of their VERIFIED phones and no
customer id; never by an unverified phone, never another customer's order. Both backends
(the end-to-end case is the cross-channel script order_on_instagram_phone_linked_on_viber)."""

from __future__ import annotations

import uuid

from bots.flows.backends import SqlOrderBackend
from bots.messages import now_utc
from storage.repositories import OrderRepository
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import IdentityRepository
from tests.identity.conftest import Stack


def phone() -> str:
    return f"+38067{uuid.uuid4().int % 10**7:07d}"


def number() -> str:
    return f"Z{uuid.uuid4().int % 10**6:06d}"


async def test_orders_by_verified_phone_only(stack: Stack) -> None:
    verified, typed, theirs = phone(), phone(), phone()
    now = now_utc()
    async with stack.db.transaction() as s:
        customers = CustomerRepository(s)
        me, _ = await customers.resolve_identity("viber", uuid.uuid4().hex, now=now)
        other, _ = await customers.resolve_identity("telegram", uuid.uuid4().hex, now=now)
        identity = IdentityRepository(s)
        await identity.add_phone(me.id, verified, verified=True, via="viber", now=now)
        await identity.add_phone(me.id, typed, verified=False, via=None, now=now)
        await identity.add_phone(other.id, theirs, verified=True, via="telegram", now=now)
        orders = OrderRepository(s)
        mine = await orders.add(number(), customer_id=me.id, now=now)
        by_phone = await orders.add(number(), phone=verified, now=now)
        await orders.add(number(), phone=typed, now=now)  # unverified: not mine
        await orders.add(number(), phone=verified, customer_id=other.id, now=now)  # placed by other
        await orders.add(number(), phone=theirs, now=now)  # the other customer's phone
        me_id, expected = me.id, {mine.number, by_phone.number}
    found = await SqlOrderBackend(stack.db).for_customer(me_id)
    assert {o.number for o in found} == expected
    async with stack.db.session() as s:
        assert {o.number for o in await OrderRepository(s).for_customer(me_id)} == expected
