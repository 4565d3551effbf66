"""The name and phone given in a booking are kept on the customer profile (the phone as an
UNVERIFIED phone), so the admin API and a handoff ticket show them, and a typed phone never
links anything. Both backends (embedded and scale-out)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from bots.identity.service import ProfileContacts
from bots.messages import now_utc
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import IdentityRepository
from tests.bots.conftest import Service, new_chat_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import contact_update
from tests.identity.conftest import ADMIN_TOKEN, Stack
from tests.identity.test_linking_e2e import customer_of

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TYPED_PHONE = "0671230099"  # typed without the country code
E164 = "+380671230099"


async def rest(service: Service, sender: str, **body: Any) -> list[dict[str, Any]]:
    resp = await service.rest(sender, **body)
    assert resp.status == 200, await resp.text()
    replies: list[dict[str, Any]] = (await resp.json())["replies"]
    return replies


def payload_of(reply: dict[str, Any], *, title: str | None = None) -> str:
    for b in reply["buttons"]:
        if title is None or title.lower() in b["title"].lower():
            return str(b["payload"])
    raise AssertionError(f"no button {title!r} in {reply}")


async def book_over_rest(service: Service, sender: str) -> str:
    """A whole booking on the REST channel, name and phone typed; the booking reference."""
    replies = await rest(service, sender, text="I'd like to book a teeth cleaning", language="en")
    replies = await rest(service, sender, payload=payload_of(replies[-1]))  # nearest day/time
    for _ in range(4):
        last = replies[-1]
        if any(b.get("payload") == "/affirm" for b in last["buttons"]):
            break
        if re.search(r"phone", last["text"], re.IGNORECASE):
            replies = await rest(service, sender, text=TYPED_PHONE)
        elif re.search(r"name", last["text"], re.IGNORECASE):
            replies = await rest(service, sender, text="Olena Petrenko")
        else:
            replies = await rest(service, sender, payload=payload_of(last))
    summary = replies[-1]
    assert "Olena Petrenko" in summary["text"], summary
    done = await rest(service, sender, payload="/affirm")
    found = re.search(r"BK-[A-Z0-9]{6}", done[-1]["text"])
    assert found, done
    return found.group(0)


async def test_booking_contacts_reach_the_profile_the_admin_api_and_the_ticket(
    app_service: Service, fake_telegram: FakeTelegram
) -> None:
    sender = f"rest-{uuid.uuid4().hex[:12]}"
    await book_over_rest(app_service, sender)
    customer = await customer_of(app_service, "rest", sender)
    assert customer is not None

    client = app_service.client
    doc = await (await client.get(f"/api/customers/{customer}", headers=AUTH)).json()
    profile = doc.get("customer", doc)
    assert profile["name"] == "Olena Petrenko"
    assert profile["phones"] == [{"phone": E164, "verified": False, "verified_via": None}]
    found = await (await client.get(f"/api/customers?phone={TYPED_PHONE}", headers=AUTH)).json()
    assert [c["id"] for c in found["customers"]] == [customer]

    # the handoff ticket carries the profile too
    await rest(app_service, sender, text="I want to talk to a person")
    listed = await (await client.get("/api/tickets?status=queued", headers=AUTH)).json()
    ticket = next(t for t in listed["tickets"] if t["customer_id"] == customer)
    detail = await (await client.get(f"/api/tickets/{ticket['id']}", headers=AUTH)).json()
    assert detail["customer"]["name"] == "Olena Petrenko"
    assert detail["customer"]["phone"] == E164

    # an unverified phone links nothing: a Telegram user who shares that number with
    # Telegram's own contact button stays a customer of their own (with it verified)
    chat = new_chat_id()
    await app_service.telegram(contact_update(chat, E164.lstrip("+"), user_id=chat))
    await wait_until(lambda: fake_telegram.sent_messages(chat_id=chat), timeout=15, what="reply")
    telegram_customer = await customer_of(app_service, "telegram", str(chat))
    assert telegram_customer is not None and telegram_customer != customer


async def test_remember_contact_never_overwrites_or_verifies(stack: Stack) -> None:
    now = now_utc()
    async with stack.db.transaction() as s:
        named, _ = await CustomerRepository(s).resolve_identity(
            "telegram", f"t{uuid.uuid4().hex[:10]}", display_name="Olena", now=now
        )
        anonymous, _ = await CustomerRepository(s).resolve_identity(
            "rest", f"r{uuid.uuid4().hex[:10]}", now=now
        )
        await IdentityRepository(s).add_phone(
            named.id, "+380501110000", verified=True, via="telegram", now=now
        )
    contacts = ProfileContacts(stack.db)
    await contacts.remember(named.id, name="Olena Petrenko", phone="0672223344", now=now)
    await contacts.remember(anonymous.id, name="Taras", phone="not a phone", now=now)
    # a second booking with the same number changes nothing
    await contacts.remember(named.id, name="Someone Else", phone="+380672223344", now=now)
    async with stack.db.session() as s:
        repo = IdentityRepository(s)
        first = await repo.profile(named.id)
        second = await repo.profile(anonymous.id)
        verified_owner = await repo.verified_owner("+380672223344")
    # the platform's name stays; the verified number stays the main phone
    assert first.customer.display_name == "Olena"
    assert first.customer.phone == "+380501110000"
    assert {(p.phone, p.verified) for p in first.phones} == {
        ("+380501110000", True),
        ("+380672223344", False),
    }
    assert verified_owner is None  # typed phones are never trusted for linking
    # a nameless profile takes the typed name; an invalid number is not kept
    assert second.customer.display_name == "Taras"
    assert second.phones == [] and second.customer.phone is None
