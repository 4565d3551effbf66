"""A signed-in visitor whose site also vouches for their phone is joined to the customer who
verified that phone elsewhere (here on Telegram): one profile, one transcript, on both backends.
A phone without its signature, or without a signed-in customer, is refused."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bots.channels.webchat_auth import identity_hash
from storage.db import Database
from storage.models import ChannelIdentity, Message
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import IdentityRepository
from tests.webchat.conftest import IDENTITY_SECRET, KEY, Service

PHONE = "+380931112233"


async def _telegram_customer(db: Database) -> int:
    now = dt.datetime.now(dt.UTC)
    async with db.transaction() as s:
        customer, _ = await CustomerRepository(s).resolve_identity(
            "telegram", "700100", display_name="Iryna", now=now
        )
        await IdentityRepository(s).add_phone(
            customer.id, PHONE, verified=True, via="telegram", now=now
        )
        return int(customer.id)


def _signed(customer: str, phone: str | None = None) -> dict[str, str]:
    doc = {"user_id": customer, "user_hash": identity_hash(IDENTITY_SECRET, customer)}
    if phone is not None:
        doc["user_phone"] = phone
        doc["phone_hash"] = identity_hash(IDENTITY_SECRET, "phone:" + phone)
    return doc


async def test_a_vouched_phone_joins_the_visitor_to_the_known_customer(webchat: Service) -> None:
    db = Database(webchat.settings.database_url)
    try:
        known = await _telegram_customer(db)
        visitor = webchat.visitor()
        session = await visitor.start(**_signed("shop-77", PHONE))
        assert (await session.json())["link"] == "linked"
        stream = await visitor.stream()
        await visitor.say("hello")
        await stream.wait_for(lambda ev: any(e["kind"] == "message" for e in ev))
        await stream.close()
        async with db.session() as s:
            owner = await s.scalar(
                select(ChannelIdentity.customer_id).where(
                    ChannelIdentity.channel == "webchat", ChannelIdentity.external_id == "u:shop-77"
                )
            )
            said = await s.scalar(
                select(Message.customer_id).where(
                    Message.channel == "webchat", Message.text == "hello"
                )
            )
        assert owner == known and said == known  # the Telegram customer's profile
    finally:
        await db.dispose()

    again = await visitor.start(**_signed("shop-77", PHONE))  # the next page: no second link
    assert "link" not in await again.json()


async def test_a_phone_needs_its_own_signature(webchat: Service) -> None:
    visitor = webchat.visitor()
    forged = {**_signed("shop-78", PHONE), "user_phone": "+380500000000"}
    assert (await visitor.post("/webchat/session", {"key": KEY, **forged})).status == 403
    unsigned = {"key": KEY, "user_phone": PHONE, "phone_hash": "0" * 64}
    resp = await visitor.post("/webchat/session", unsigned)  # no customer id: the phone is unused
    assert resp.status == 200
    assert "link" not in await resp.json()
