"""Telegram's share-phone keyboard goes away once the phone is typed (trial 3, T3).

The booking asks for the phone with a reply keyboard (`request_contact`). A one-time keyboard
hides when it is tapped, but a customer who types the number instead kept it on screen under
every later message. The reply after it now takes it away (`ReplyKeyboardRemove`); a reply with
inline buttons (the booking's summary) is sent in two messages, the first taking the keyboard
away, since one message carries one markup. Through the real webhook and the fake Bot API.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardRemove

from bots.channels.telegram_render import POINTER, render
from bots.messages import Button, OutboundMessage
from tests.bots.conftest import Service, new_chat_id, new_update_id
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import contact_update, text_update

REMOVE = {"remove_keyboard": True}


class Chat:
    def __init__(self, service: Service, fake: FakeTelegram) -> None:
        self.service, self.fake, self.id, self.seen = service, fake, new_chat_id(), 0

    async def send(self, update: dict[str, Any], replies: int) -> list[dict[str, Any]]:
        resp = await self.service.telegram(update)
        assert resp.status == 200
        want = self.seen + replies
        await self.fake.wait_for(lambda: len(self.fake.sent_messages(self.id)) >= want)
        got = self.fake.sent_messages(self.id)[self.seen : want]
        self.seen = want
        return got

    async def say(self, text: str, replies: int = 1) -> list[dict[str, Any]]:
        return await self.send(text_update(self.id, text, update_id=new_update_id()), replies)


def _keyboard(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for row in (message.get("reply_markup") or {}).get("keyboard") or [] for b in row]


def _inline(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [b["callback_data"] for row in rows for b in row]


async def test_a_typed_phone_takes_the_share_keyboard_away(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    chat = Chat(service, fake_telegram)
    [asked] = await chat.say("хочу записатися на чистку зубів завтра о 15:00")
    assert [b.get("request_contact") for b in _keyboard(asked)] == [True]
    details, question = await chat.say("0671234567", replies=2)
    assert details["reply_markup"] == REMOVE
    assert "Телефон: +380671234567" in details["text"]
    assert question["text"] == "Записати?" and "/affirm" in _inline(question)
    [done] = await chat.say("так")  # nothing left to take away: sent as it is
    assert done["text"].startswith("Готово!") and done.get("reply_markup") is None


async def test_the_keyboard_stays_while_the_phone_is_asked_again(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    chat = Chat(service, fake_telegram)
    await chat.say("book a teeth cleaning tomorrow at 3pm")
    typo, again = await chat.say("067123", replies=2)
    assert "6 digits" in typo["text"] and typo.get("reply_markup") is None
    assert [b.get("request_contact") for b in _keyboard(again)] == [True]
    details, _ = await chat.say("+380671234567", replies=2)
    assert details["reply_markup"] == REMOVE


async def test_a_shared_contact_also_ends_the_request(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    chat = Chat(service, fake_telegram)
    await chat.say("book a teeth cleaning tomorrow at 3pm")
    update = contact_update(chat.id, "+380671234567", user_id=chat.id)
    details, question = await chat.send(update, replies=2)
    assert details["reply_markup"] == REMOVE and "/affirm" in _inline(question)


def test_a_message_that_cannot_be_cut_keeps_its_text_whole() -> None:
    """One sentence with buttons: the whole text takes the keyboard away, the buttons follow
    under a pointer; without buttons, the message itself takes it away."""
    one = OutboundMessage("Which one?", buttons=(Button("A", "/a"),), close_phone_request=True)
    rendered = render(one)
    assert rendered.parts == ["Which one?", POINTER]
    assert isinstance(rendered.first_markup, ReplyKeyboardRemove)
    assert isinstance(rendered.markup, InlineKeyboardMarkup)
    plain = render(OutboundMessage("Thanks!", close_phone_request=True))
    assert plain.parts == ["Thanks!"] and plain.first_markup is None
    assert isinstance(plain.markup, ReplyKeyboardRemove)


async def test_a_call_backs_typed_phone_takes_the_keyboard_away(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    """The handoff's own "which number?" (a call back, no phone known) shows the share button
    too; the reply to the typed number takes it away."""
    chat = Chat(service, fake_telegram)
    await service.telegram(text_update(chat.id, "передзвоніть мені", update_id=new_update_id()))

    def asked() -> bool:
        return any(_keyboard(m) for m in fake_telegram.sent_messages(chat.id))

    await fake_telegram.wait_for(asked)
    chat.seen = len(fake_telegram.sent_messages(chat.id))
    asking = fake_telegram.sent_messages(chat.id)[-1]
    assert [b.get("request_contact") for b in _keyboard(asking)] == [True]
    [confirmed] = await chat.say("0671234567")
    assert "+380671234567" in confirmed["text"]
    assert confirmed["reply_markup"] == REMOVE
