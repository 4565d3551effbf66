"""Linking through the real webhooks: Telegram and Viber contacts, a typed phone confirmed by
a code sent to the other messenger, "continue in ..." deep links, wrong and expired codes,
Viber `context`. Both backends (embedded and scale-out)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from storage.db import Database
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import IdentityRepository
from tests.bots.conftest import Service, new_chat_id
from tests.fakes import instagram as ig
from tests.fakes import viber as vb
from tests.fakes import wait_until
from tests.fakes.instagram import FakeInstagram
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import contact_update, start_update, text_update
from tests.fakes.viber import FakeViber

PHONE = "+380671234567"


def viber_user() -> dict[str, Any]:
    return vb.user(uuid.uuid4().hex[:16] + "+/A==", name="Olena", language="en")


async def customer_of(service: Service, channel: str, external_id: str) -> int | None:
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            customer = await CustomerRepository(s).find_by_identity(channel, external_id)
            return None if customer is None else customer.id
    finally:
        await db.dispose()


async def channels_of(service: Service, customer_id: int) -> set[str]:
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            profile = await IdentityRepository(s).profile(customer_id)
            return {f"{i.channel}:{i.external_id}" for i in profile.identities}
    finally:
        await db.dispose()


def tg_texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [m["text"] for m in fake.sent_messages(chat_id=chat)]


def vb_texts(fake: FakeViber, user_id: str) -> list[str]:
    return [b["text"] for b in fake.sent() if b.get("receiver") == user_id]


def ig_texts(fake: FakeInstagram, user_id: str) -> list[str]:
    """Texts sent to an IGSID: plain messages and the text of button templates."""
    return [_ig_text(b["message"]) for b in fake.sent() if b["recipient"]["id"] == user_id]


def _ig_text(message: dict[str, Any]) -> str:
    if "text" in message:
        return str(message["text"])
    return str(message["attachment"]["payload"].get("text") or "")


def ig_link_buttons(fake: FakeInstagram, user_id: str) -> list[dict[str, Any]]:
    """The `web_url` buttons of the button templates sent to an IGSID."""
    return [
        button
        for b in fake.sent()
        if b["recipient"]["id"] == user_id and "attachment" in b["message"]
        for button in b["message"]["attachment"]["payload"].get("buttons") or ()
        if button["type"] == "web_url"
    ]


def tg_url_buttons(fake: FakeTelegram, chat: int) -> list[dict[str, Any]]:
    """The inline keyboard buttons with a `url` sent to a chat."""
    found = []
    for m in fake.sent_messages(chat_id=chat):
        markup = m.get("reply_markup")
        markup = json.loads(markup) if isinstance(markup, str) else markup
        for row in (markup or {}).get("inline_keyboard") or ():
            found.extend(b for b in row if "url" in b)
    return found


def says_linked(text: str) -> bool:
    return "accounts are linked" in text or "Акаунти прив'язано" in text


async def texts_after(get: Any, count: int, what: str) -> list[str]:
    async def check() -> list[str] | None:
        texts: list[str] = get()
        return texts if len(texts) >= count else None

    found: list[str] = await wait_until(check, timeout=15, what=what)
    return found


async def test_platform_verified_phones_link_telegram_to_viber(
    app_service: Service, fake_telegram: FakeTelegram, fake_viber: FakeViber
) -> None:
    user = viber_user()
    contact = vb.message({"type": "contact", "contact": {"name": "Olena", "phone_number": PHONE}})
    contact["sender"] = user
    assert (await app_service.viber(contact)).status == 200
    viber_customer = await wait_until(
        lambda: customer_of(app_service, "viber", user["id"]), timeout=15, what="viber customer"
    )
    chat = new_chat_id()
    # a phone-book contact (no user_id) is not the sender's own: nothing is linked
    await app_service.telegram(contact_update(chat, PHONE.lstrip("+")))
    await texts_after(lambda: tg_texts(fake_telegram, chat), 1, "reply to a phone-book contact")
    assert await customer_of(app_service, "telegram", str(chat)) != viber_customer
    # the sender's own contact, vouched for by Telegram: the same customer
    await app_service.telegram(contact_update(chat, PHONE.lstrip("+"), user_id=chat))
    texts = await texts_after(lambda: tg_texts(fake_telegram, chat), 2, "reply to own contact")
    assert await customer_of(app_service, "telegram", str(chat)) == viber_customer
    assert says_linked(texts[-1])
    assert await channels_of(app_service, viber_customer) == {
        f"viber:{user['id']}",
        f"telegram:{chat}",
    }


async def test_typed_phone_is_confirmed_by_a_code_sent_to_the_other_messenger(
    app_service: Service, fake_telegram: FakeTelegram, fake_viber: FakeViber
) -> None:
    chat = new_chat_id()
    await app_service.telegram(contact_update(chat, PHONE, user_id=chat))
    await texts_after(lambda: tg_texts(fake_telegram, chat), 1, "telegram contact reply")
    owner = await customer_of(app_service, "telegram", str(chat))
    user = viber_user()

    async def viber_says(text: str, *needles: str) -> str:
        before = len(vb_texts(fake_viber, user["id"]))
        doc = vb.text_message(text, sender=user)
        assert (await app_service.viber(doc)).status == 200

        def answered() -> str | None:
            new = vb_texts(fake_viber, user["id"])[before:]
            hit = [t for t in new if any(n in t for n in needles)]
            return hit[-1] if hit else None

        found: str = await wait_until(answered, timeout=15, what=f"answer to {text!r}")
        return found

    await viber_says("link my accounts please", "phone number", "номер телефону")
    sent = await viber_says(PHONE, "code", "код")
    assert "Telegram" in sent
    code_messages = await texts_after(lambda: tg_texts(fake_telegram, chat), 2, "the code")
    code = re.search(r"\b(\d{6})\b", code_messages[-1])
    assert code is not None
    assert await customer_of(app_service, "viber", user["id"]) != owner  # not yet
    wrong = "000000" if code.group(1) != "000000" else "111111"
    assert await viber_says(wrong, "doesn't match", "не збігається")
    assert await customer_of(app_service, "viber", user["id"]) != owner
    assert says_linked(await viber_says(code.group(1), "linked", "прив'язано"))
    merged = await customer_of(app_service, "telegram", str(chat))
    assert merged == await customer_of(app_service, "viber", user["id"])


async def test_continue_in_telegram_link_carries_a_one_time_code(
    app_service: Service, fake_telegram: FakeTelegram, fake_instagram: FakeInstagram
) -> None:
    igsid = f"ig{uuid.uuid4().int % 10**15}"
    ask = ig.message("Link accounts", sender=igsid, quick_reply={"payload": "/link_account"})
    assert (await app_service.instagram(ig.body(ig.entry(ask)))).status == 200
    texts = await texts_after(lambda: ig_texts(fake_instagram, igsid), 2, "the offer of links")
    # a button template: "Continue in Telegram" opens t.me with the code; Instagram's
    # web_url buttons take only http(s), so the viber:// link is in the text; and no link
    # back to Instagram itself is offered
    buttons = ig_link_buttons(fake_instagram, igsid)
    assert [b["title"] for b in buttons] == ["Continue in Telegram"]
    link = re.fullmatch(r"https://t\.me/omnirelay_test_bot\?start=([A-Z0-9]+)", buttons[0]["url"])
    assert link is not None
    assert "Continue in Viber: viber://pa?chatURI=omnirelay&context=" in "\n".join(texts)
    assert "ig.me" not in "\n".join(texts)
    ig_customer = await customer_of(app_service, "instagram", igsid)

    stranger = new_chat_id()
    await app_service.telegram(start_update(stranger, "WRONGCODE1"))
    polite = await texts_after(lambda: tg_texts(fake_telegram, stranger), 1, "wrong code reply")
    assert "недійсне" in polite[0]  # the Telegram user's language is Ukrainian
    assert await customer_of(app_service, "telegram", str(stranger)) != ig_customer

    chat = new_chat_id()
    await app_service.telegram(start_update(chat, link.group(1)))
    done = await texts_after(lambda: tg_texts(fake_telegram, chat), 1, "linked reply")
    assert says_linked(done[0])
    assert await customer_of(app_service, "telegram", str(chat)) == ig_customer
    # single use: the same link opened by somebody else links nothing
    other = new_chat_id()
    await app_service.telegram(start_update(other, link.group(1)))
    refused = await texts_after(lambda: tg_texts(fake_telegram, other), 1, "reused code")
    assert "вже використаний" in refused[0]
    assert await customer_of(app_service, "telegram", str(other)) != ig_customer


async def test_viber_context_links_on_conversation_started(
    app_service: Service, fake_telegram: FakeTelegram, fake_viber: FakeViber
) -> None:
    chat = new_chat_id()
    await app_service.telegram(text_update(chat, "/link_account"))
    await app_service.telegram(text_update(chat, "I want to link my accounts"))
    texts = await texts_after(lambda: tg_texts(fake_telegram, chat), 2, "links")
    # the offer asks for the phone too (Viber shows only the last message's keyboard), and a
    # Telegram contact keyboard cannot hold link buttons: both deep links are in the text,
    # carrying the same code
    link = re.search(r"viber://pa\?chatURI=omnirelay&context=([A-Z0-9]+)", "\n".join(texts))
    assert link is not None
    offer = f"Continue in Instagram: https://ig.me/m/omnirelay?ref={link.group(1)}"
    assert offer in "\n".join(texts)
    assert tg_url_buttons(fake_telegram, chat) == []
    tg_customer = await customer_of(app_service, "telegram", str(chat))
    user = viber_user()
    opened = vb.conversation_started(context=link.group(1), user=user)
    answer = await app_service.viber(opened)
    assert answer.status == 200
    # linked before the webhook answers: the welcome in the response body says so
    assert await customer_of(app_service, "viber", user["id"]) == tg_customer
    assert says_linked((await answer.json())["text"])
