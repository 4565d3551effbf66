"""The admin API (401 without the token, profile search, one timeline, merge with the
verified-phone rule, undo) and one customer's two channels writing at the same moment."""

from __future__ import annotations

import asyncio
import uuid

from storage.db import Database
from tests.bots.conftest import Service, new_chat_id
from tests.fakes import viber as vb
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import contact_update, text_update
from tests.fakes.viber import FakeViber
from tests.identity.conftest import ADMIN_TOKEN
from tests.identity.test_linking_e2e import customer_of

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def contact_customer(service: Service, fake: FakeTelegram, phone: str) -> tuple[int, int]:
    chat = new_chat_id()
    await service.telegram(contact_update(chat, phone, user_id=chat))
    await wait_until(lambda: fake.sent_messages(chat_id=chat), timeout=15, what="reply")
    customer = await customer_of(service, "telegram", str(chat))
    assert customer is not None
    return chat, customer


async def test_admin_api(app_service: Service, fake_telegram: FakeTelegram) -> None:
    client = app_service.client
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        resp = await client.get("/api/customers?phone=%2B380501112233", headers=headers)
        assert resp.status == 401
    _, first = await contact_customer(app_service, fake_telegram, "+380501112233")
    _, second = await contact_customer(app_service, fake_telegram, "+380509998877")
    found = await (await client.get("/api/customers?phone=0501112233", headers=AUTH)).json()
    assert [c["id"] for c in found["customers"]] == [first]
    assert found["customers"][0]["phones"][0]["verified"] is True
    assert (await client.get("/api/customers?phone=abc", headers=AUTH)).status == 400
    assert (await client.get("/api/customers/999999", headers=AUTH)).status == 404
    timeline = await (await client.get(f"/api/customers/{first}/transcript", headers=AUTH)).json()
    assert [(e["from"], e["channel"]) for e in timeline["transcript"]] == [
        ("customer", "telegram"),
        ("bot", "telegram"),
    ]
    # different verified phones: refused without a code or force
    url = f"/api/customers/{first}/merge"
    refused = await client.post(url, json={"other": second}, headers=AUTH)
    assert refused.status == 409
    merged = await client.post(url, json={"other": second, "force": True}, headers=AUTH)
    assert merged.status == 200
    merge = await merged.json()
    profile = await (await client.get(f"/api/customers/{first}", headers=AUTH)).json()
    assert len(profile["identities"]) == 2 and len(profile["phones"]) == 2
    undo = await client.post(f"/api/merges/{merge['merge_id']}/undo", headers=AUTH)
    assert undo.status == 200
    again = await client.post(f"/api/merges/{merge['merge_id']}/undo", headers=AUTH)
    assert again.status == 409
    profile = await (await client.get(f"/api/customers/{first}", headers=AUTH)).json()
    assert len(profile["identities"]) == 1


async def test_two_channels_of_one_customer_at_the_same_moment(
    app_service: Service, fake_telegram: FakeTelegram, fake_viber: FakeViber
) -> None:
    phone = "+380631231234"
    chat, customer = await contact_customer(app_service, fake_telegram, phone)
    user = vb.user(uuid.uuid4().hex[:16] + "+/A==", language="en")
    contact = vb.message({"type": "contact", "contact": {"name": "O", "phone_number": phone}})
    contact["sender"] = user
    await app_service.viber(contact)
    await wait_until(
        lambda: _is(customer_of(app_service, "viber", user["id"]), customer),
        timeout=15,
        what="viber linked",
    )
    sessions_before = len(fake_telegram.sent_messages(chat_id=chat))
    await asyncio.gather(
        *(app_service.telegram(text_update(chat, f"hello {i}")) for i in range(3)),
        *(app_service.viber(vb.text_message(f"hi {i}", sender=user)) for i in range(3)),
    )

    async def all_answered() -> bool:
        tg = len(fake_telegram.sent_messages(chat_id=chat)) - sessions_before
        viber = len([b for b in fake_viber.sent() if b.get("receiver") == user["id"]])
        return tg >= 3 and viber >= 4  # the contact's reply and three more

    await wait_until(all_answered, timeout=30, what="six answers")
    db = Database(app_service.settings.database_url)
    try:
        from storage.repositories.identity import IdentityRepository

        async with db.session() as s:
            timeline = await IdentityRepository(s).timeline(customer)
    finally:
        await db.dispose()
    inbound = [e for e in timeline if e.sender == "customer"]
    assert {e.channel for e in inbound} == {"telegram", "viber"}
    assert len(inbound) == 2 + 6  # two contacts, six texts: nothing lost, nothing doubled


async def _is(value: object, expected: int) -> bool:
    return await value == expected  # type: ignore[misc]
