"""What the customer is told, through the real webhooks, on both backends: a link made by a
Viber `conversation_started` (`context`) answers in the welcome of the webhook's response, an
Instagram referral (`ref`) with an ordinary reply; a wrong code is refused politely on both;
a phone shared with no question asked is kept (not "I didn't understand"), in the customer's
language; the share-phone buttons speak that language, and on Viber the last message of the
link offer keeps its share-phone key."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from storage.db import Database
from storage.repositories.identity import IdentityRepository
from tests.bots.conftest import Service, new_chat_id
from tests.fakes import instagram as ig
from tests.fakes import viber as vb
from tests.fakes import wait_until
from tests.fakes.instagram import FakeInstagram
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import contact_update, text_update
from tests.fakes.viber import FakeViber
from tests.identity.test_linking_e2e import (
    customer_of,
    ig_texts,
    says_linked,
    texts_after,
    tg_texts,
    vb_texts,
)

DIDNT_UNDERSTAND = ("didn't understand", "не зрозумів")


async def telegram_customer(service: Service, fake: FakeTelegram) -> tuple[int, int]:
    """A Ukrainian-speaking Telegram chat that talked to the bot: (chat id, customer id)."""
    chat = new_chat_id()
    await service.telegram(text_update(chat, "привіт"))
    await texts_after(lambda: tg_texts(fake, chat), 1, "greeting")
    customer = await customer_of(service, "telegram", str(chat))
    assert customer is not None
    return chat, customer


async def deep_link_code(service: Service, customer_id: int) -> str:
    db = Database(service.settings.database_url)
    try:
        async with db.transaction() as s:
            return await IdentityRepository(s).issue_code(
                "deep_link",
                customer_id,
                now=dt.datetime.now(dt.UTC),
                ttl=dt.timedelta(minutes=30),
            )
    finally:
        await db.dispose()


async def phones_of(service: Service, customer_id: int) -> dict[str, bool]:
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            profile = await IdentityRepository(s).profile(customer_id)
            return {p.phone: p.verified for p in profile.phones}
    finally:
        await db.dispose()


def viber_user(language: str) -> dict[str, Any]:
    return vb.user(uuid.uuid4().hex[:16] + "+/A==", name="Olena", language=language)


async def test_viber_context_is_answered_in_the_welcome(
    app_service: Service, fake_telegram: FakeTelegram, fake_viber: FakeViber
) -> None:
    _, owner = await telegram_customer(app_service, fake_telegram)
    code = await deep_link_code(app_service, owner)
    user = viber_user("en")  # the profile speaks Ukrainian: its language wins
    answer = await app_service.viber(vb.conversation_started(context=code, user=user))
    assert answer.status == 200
    body = await answer.json()
    assert "Акаунти прив'язано" in body["text"]
    assert "receiver" not in body  # a welcome is the response, never a send_message
    assert await customer_of(app_service, "viber", user["id"]) == owner
    assert vb_texts(fake_viber, user["id"]) == []


async def test_a_wrong_viber_context_is_refused_politely_in_the_welcome(
    app_service: Service, fake_viber: FakeViber
) -> None:
    for language, polite in (("uk", "посилання вже недійсне"), ("en", "isn't valid any more")):
        user = viber_user(language)
        answer = await app_service.viber(vb.conversation_started(context="NOSUCHCODE", user=user))
        assert answer.status == 200
        assert polite in (await answer.json())["text"]
        assert await customer_of(app_service, "viber", user["id"]) is None  # nothing linked
    # without a context: the plain welcome, at once
    plain = await app_service.viber(vb.conversation_started(user=viber_user("en")))
    assert "недійсне" not in (await plain.json())["text"]


async def test_instagram_ref_is_answered_with_a_reply(
    app_service: Service, fake_telegram: FakeTelegram, fake_instagram: FakeInstagram
) -> None:
    _, owner = await telegram_customer(app_service, fake_telegram)
    code = await deep_link_code(app_service, owner)
    igsid = f"{uuid.uuid4().int % 10**15}"
    opened = ig.item("referral", {"ref": code, "source": "IGME_LINK", "type": "OPEN_THREAD"})
    opened["sender"] = {"id": igsid}
    assert (await app_service.instagram(ig.body(ig.entry(opened)))).status == 200
    (text,) = await texts_after(lambda: ig_texts(fake_instagram, igsid), 1, "link answer")
    assert says_linked(text)
    assert await customer_of(app_service, "instagram", igsid) == owner
    # a stranger's wrong ref: a polite refusal, linked to nobody
    stranger = f"{uuid.uuid4().int % 10**15}"
    wrong = ig.item("referral", {"ref": "NOSUCHCODE", "source": "IGME_LINK", "type": "OPEN_THREAD"})
    wrong["sender"] = {"id": stranger}
    wrong["timestamp"] += 1  # another event
    assert (await app_service.instagram(ig.body(ig.entry(wrong)))).status == 200
    (refused,) = await texts_after(lambda: ig_texts(fake_instagram, stranger), 1, "refusal")
    assert "посилання вже недійсне" in refused or "isn't valid any more" in refused
    assert await customer_of(app_service, "instagram", stranger) != owner


async def test_a_contact_shared_unasked_is_kept_in_the_customers_language(
    app_service: Service, fake_telegram: FakeTelegram, fake_viber: FakeViber
) -> None:
    chat, customer = await telegram_customer(app_service, fake_telegram)
    phone = f"+38067{uuid.uuid4().int % 10**7:07d}"
    await app_service.telegram(contact_update(chat, phone.lstrip("+"), user_id=chat))
    texts = await texts_after(lambda: tg_texts(fake_telegram, chat), 2, "contact answer")
    assert "зберіг ваш номер" in texts[-1]
    assert not any(n in texts[-1] for n in DIDNT_UNDERSTAND)
    assert await phones_of(app_service, customer) == {phone: True}
    # on Viber, in English; the same phone, now verified on the Telegram profile: linked
    user = viber_user("en")
    shared = vb.message({"type": "contact", "contact": {"name": "O", "phone_number": phone}})
    shared["sender"] = user
    await app_service.viber(shared)
    (linked,) = await texts_after(lambda: vb_texts(fake_viber, user["id"]), 1, "viber answer")
    assert says_linked(linked)
    assert await customer_of(app_service, "viber", user["id"]) == customer


async def test_a_phone_typed_unasked_is_kept_unverified(
    app_service: Service, fake_viber: FakeViber
) -> None:
    user = viber_user("en")
    await app_service.viber(vb.text_message("hello", sender=user))
    await texts_after(lambda: vb_texts(fake_viber, user["id"]), 1, "greeting")
    phone = f"+38063{uuid.uuid4().int % 10**7:07d}"
    await app_service.viber(vb.text_message(phone, sender=user))
    texts = await texts_after(lambda: vb_texts(fake_viber, user["id"]), 2, "typed phone")
    assert "saved your number" in texts[-1]
    customer = await customer_of(app_service, "viber", user["id"])
    assert customer is not None
    assert await phones_of(app_service, customer) == {phone: False}  # typed: links nothing


def _viber_keys(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["ActionType"], b["Text"]) for b in (body.get("keyboard") or {}).get("Buttons", ())]


async def test_share_phone_buttons_speak_the_customers_language(
    app_service: Service, fake_telegram: FakeTelegram, fake_viber: FakeViber
) -> None:
    chat, _ = await telegram_customer(app_service, fake_telegram)
    await app_service.telegram(text_update(chat, "хочу прив'язати акаунт"))
    await texts_after(lambda: tg_texts(fake_telegram, chat), 3, "the phone question")
    keyboards = [
        m["reply_markup"]["keyboard"]
        for m in fake_telegram.sent_messages(chat_id=chat)
        if isinstance(m.get("reply_markup"), dict) and "keyboard" in m["reply_markup"]
    ]
    assert keyboards and keyboards[0][0][0] == {
        "text": "📱 Поділитися номером",
        "request_contact": True,
    }
    # Viber shows only the last message's keyboard: the offer of links keeps the share-phone
    # key, titled in the customer's language
    user = viber_user("uk")
    await app_service.viber(vb.text_message("хочу прив'язати акаунт", sender=user))

    def offer() -> dict[str, Any] | None:
        sent = [b for b in fake_viber.sent() if b.get("receiver") == user["id"]]
        return sent[-1] if len(sent) >= 2 else None

    last = await wait_until(offer, timeout=15, what="the offer of links on Viber")
    keys = _viber_keys(last)
    assert ("open-url", "Перейти в Telegram") in keys
    assert keys[-1] == ("share-phone", "📱 Поділитися номером")
    assert last["min_api_version"] == 3
