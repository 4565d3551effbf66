"""A full booking conversation on each platform channel, through the real webhook routes, with
the platform's own buttons: Telegram inline-keyboard callbacks and its contact button, Viber
reply keyboards and share-phone, Instagram quick replies (and a typed phone: it has no contact
button). Both backends."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from storage.db import Database
from storage.models import Message
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from tests.bots.conftest import Service, new_chat_id, new_update_id
from tests.fakes import instagram as ig
from tests.fakes import viber as vb
from tests.fakes import wait_until
from tests.fakes.instagram import FakeInstagram
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import callback_update, contact_update, text_update
from tests.fakes.viber import FakeViber

PHONE = "+380501112233"


@dataclass
class Reply:
    text: str
    buttons: list[tuple[str, str]]  # (title, what the platform sends back when tapped)
    asks_phone: bool
    raw: dict[str, Any]


class Driver:
    """One customer on one platform: says things, taps buttons, waits for the bot."""

    channel: str
    user_id: str

    def __init__(self, service: Service) -> None:
        self.service = service
        self.turns = 0

    async def say(self, text: str) -> list[Reply]:
        raise NotImplementedError

    async def tap(self, reply: Reply, title: str) -> list[Reply]:
        raise NotImplementedError

    async def share_phone(self, reply: Reply) -> list[Reply]:
        raise NotImplementedError

    def replies(self) -> list[Reply]:
        raise NotImplementedError

    async def _after(self, resp: Any) -> list[Reply]:
        """Wait until the bot answered this turn; return the new replies."""
        assert resp.status == 200, await resp.text()
        before = len(self.replies())
        self.turns += 1
        rows = await wait_until(self._settled, timeout=20, what=f"turn {self.turns} answered")
        sent = [r for r in rows if r.direction == "out"]
        await wait_until(lambda: len(self.replies()) >= len(sent), timeout=10, what="sends")
        new = self.replies()[before:]
        assert new, f"no reply on {self.channel} to turn {self.turns}"
        return new

    async def _settled(self) -> list[Message] | None:
        db = Database(self.service.settings.database_url)
        try:
            async with db.session() as s:
                customer = await CustomerRepository(s).find_by_identity(self.channel, self.user_id)
                if customer is None:
                    return None
                rows = list(await MessageRepository(s).transcript(customer.id))
        finally:
            await db.dispose()
        inbound = [r for r in rows if r.direction == "in"]
        done = all(r.status != "pending" for r in rows if r.direction == "out")
        return rows if len(inbound) == self.turns and done and rows[-1].direction == "out" else None


class TelegramDriver(Driver):
    channel = "telegram"

    def __init__(self, service: Service, fake: FakeTelegram) -> None:
        super().__init__(service)
        self.fake = fake
        self.chat = new_chat_id()
        self.user_id = str(self.chat)

    def replies(self) -> list[Reply]:
        out = []
        for m in self.fake.sent_messages(chat_id=self.chat):
            markup = m.get("reply_markup") or {}
            inline = [
                (b["text"], b["callback_data"])
                for row in markup.get("inline_keyboard", ())
                for b in row
            ]
            keys = [b for row in markup.get("keyboard", ()) for b in row]
            plain = [(b["text"], b["text"]) for b in keys if not b.get("request_contact")]
            phone = any(b.get("request_contact") for b in keys)
            out.append(Reply(m["text"], inline + plain, phone, m))
        return out

    async def say(self, text: str) -> list[Reply]:
        update = text_update(self.chat, text, update_id=new_update_id())
        return await self._after(await self.service.telegram(update))

    async def tap(self, reply: Reply, title: str) -> list[Reply]:
        data = dict(reply.buttons)[title]
        inline = (reply.raw.get("reply_markup") or {}).get("inline_keyboard")
        if not inline:  # a reply-keyboard button sends its title as text
            return await self.say(data)
        update = callback_update(self.chat, data, keyboard=inline, update_id=new_update_id())
        return await self._after(await self.service.telegram(update))

    async def share_phone(self, reply: Reply) -> list[Reply]:
        assert reply.asks_phone, "Telegram shows a request_contact button when a phone is asked"
        update = contact_update(self.chat, PHONE.lstrip("+"), user_id=self.chat)
        update["update_id"] = new_update_id()
        return await self._after(await self.service.telegram(update))


class ViberDriver(Driver):
    channel = "viber"

    def __init__(self, service: Service, fake: FakeViber, language: str) -> None:
        super().__init__(service)
        self.fake = fake
        self.user_id = uuid.uuid4().hex[:16] + "+/A=="
        self.user = vb.user(self.user_id, name="Olena", language=language)

    def replies(self) -> list[Reply]:
        out = []
        for body in self.fake.sent():
            if body.get("receiver") != self.user_id:
                continue
            buttons = (body.get("keyboard") or {}).get("Buttons") or []
            reply = [(b["Text"], b["ActionBody"]) for b in buttons if b["ActionType"] == "reply"]
            phone = any(b["ActionType"] == "share-phone" for b in buttons)
            out.append(Reply(body.get("text", ""), reply, phone, body))
        return out

    async def say(self, text: str, **extra: Any) -> list[Reply]:
        return await self._after(
            await self.service.viber(vb.text_message(text, sender=self.user, **extra))
        )

    async def tap(self, reply: Reply, title: str) -> list[Reply]:
        # A reply button comes back as a text message: the ActionBody, with tracking_data.
        body = dict(reply.buttons)[title]
        return await self.say(body, tracking_data=reply.raw.get("tracking_data"))

    async def share_phone(self, reply: Reply) -> list[Reply]:
        assert reply.asks_phone, "Viber shows a share-phone button when a phone is asked"
        contact = vb.message(
            {"type": "contact", "contact": {"name": "Olena", "phone_number": PHONE}},
            sender=self.user,
        )
        return await self._after(await self.service.viber(contact))


class InstagramDriver(Driver):
    channel = "instagram"

    def __init__(self, service: Service, fake: FakeInstagram) -> None:
        super().__init__(service)
        self.fake = fake
        self.user_id = str(10**15 + uuid.uuid4().int % 10**15)

    def replies(self) -> list[Reply]:
        out = []
        for body in self.fake.sent():
            if body["recipient"]["id"] != self.user_id:
                continue
            message = body["message"]
            quick = [(q["title"], q["payload"]) for q in message.get("quick_replies") or ()]
            out.append(Reply(message.get("text", ""), quick, False, body))
        return out

    async def say(self, text: str, **extra: Any) -> list[Reply]:
        doc = ig.body(ig.entry(ig.message(text, sender=self.user_id, **extra)))
        return await self._after(await self.service.instagram(doc))

    async def tap(self, reply: Reply, title: str) -> list[Reply]:
        return await self.say(title, quick_reply={"payload": dict(reply.buttons)[title]})

    async def share_phone(self, reply: Reply) -> list[Reply]:
        return await self.say(PHONE)  # no contact button on Instagram: the phone is typed


async def book(driver: Driver, opening: str, service_title: str) -> str:
    """Book a visit with buttons wherever the bot offers them; return the reference."""
    replies = await driver.say(opening)
    last = replies[-1]
    # Instagram cuts quick-reply titles to 20 characters ("Professional teeth c…")
    shown = next(t for t, _ in last.buttons if service_title.startswith(t.rstrip("…")))
    replies = await driver.tap(last, shown)
    last = replies[-1]
    assert last.buttons, f"free times offered as buttons: {last}"
    replies = await driver.tap(last, last.buttons[0][0])  # the nearest free time
    for _ in range(3):  # name and phone, when the bot does not know them yet
        last = replies[-1]
        if any(payload == "/affirm" or payload.endswith("/affirm") for _, payload in last.buttons):
            break
        if last.asks_phone or re.search(r"phone|телефон", last.text, re.IGNORECASE):
            replies = await driver.share_phone(last)
        else:
            replies = await driver.say("Olena Petrenko")
    summary = replies[-1]
    # the shared phone (on Telegram the summary's details come in a message of their own, the
    # one that takes the share-phone keyboard away)
    said = " ".join(r.text for r in replies)
    assert "380" in said.replace(" ", ""), said
    yes = next(t for t, p in summary.buttons if p == "/affirm" or p.endswith("/affirm"))
    done = (await driver.tap(summary, yes))[-1]
    match = re.search(r"BK-[A-Z0-9]{6}", done.text)
    assert match, done.text
    return match.group(0)


async def _booking_of(service: Service, reference: str) -> Any:
    from sqlalchemy import select

    from storage.models import Booking

    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            return await s.scalar(select(Booking).where(Booking.reference == reference))
    finally:
        await db.dispose()


@pytest.mark.parametrize("channel", ["telegram", "viber", "instagram"])
async def test_full_booking(
    channel: str,
    service: Service,
    fake_telegram: FakeTelegram,
    fake_viber: FakeViber,
    fake_instagram: FakeInstagram,
) -> None:
    driver: Driver
    if channel == "telegram":
        driver = TelegramDriver(service, fake_telegram)
        reference = await book(driver, "I'd like to book an appointment", "Dental consultation")
    elif channel == "viber":
        driver = ViberDriver(service, fake_viber, language="uk")
        reference = await book(driver, "хочу записатися на прийом", "Консультація стоматолога")
    else:
        driver = InstagramDriver(service, fake_instagram)
        reference = await book(driver, "I want to book a visit", "Professional teeth cleaning")
    booking = await _booking_of(service, reference)
    assert booking is not None
    assert booking.status in ("confirmed", "booked", "active")
