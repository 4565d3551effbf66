"""After an agent closes a ticket (trial 3): one thing at a time, in the customer's language.

T14: "Shall we continue your booking?" and the 1-5 rating question arrived together; the
customer took up the booking, and the "5" typed after it was not understood. Now the close asks
for the rating alone, a bare digit is the rating, and the task is offered again after it, with
the name and phone the customer typed before the handoff.

T2: an English customer on a Ukrainian Telegram app, handed to a person in Ukrainian, wrote
English while waiting; the close and the rating prompt still came in Ukrainian. A message kept
from the bot now sets the session's language when its words leave no doubt.

Through the real app: Telegram webhooks in, the agent API over HTTP, replies out at the fake Bot
API; on both backends."""

from __future__ import annotations

from typing import Any

from storage.db import Database
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import callback_update, text_update
from tests.handoff.conftest import Api

EN_CLOSED = "Our colleague has finished the conversation"
EN_CSAT = "How would you rate the help you got"
UK_CSAT = "Як ви оціните допомогу"
EN_RESUME = "Shall we continue your booking?"


class Chat:
    """One Telegram customer: what they send, and the bot's messages since the last look."""

    def __init__(self, api: Api, fake: FakeTelegram) -> None:
        self.api, self.fake, self.id = api, fake, new_chat_id()
        self.seen = 0

    async def say(self, text: str, replies: int = 1) -> list[dict[str, Any]]:
        await self.api.telegram(text_update(self.id, text, update_id=new_update_id()))
        return await self.next(replies)

    async def tap(self, payload: str, replies: int = 1) -> list[dict[str, Any]]:
        await self.api.telegram(callback_update(self.id, payload, update_id=new_update_id()))
        return await self.next(replies)

    async def next(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` messages the bot sends to this chat."""
        want = self.seen + count
        await self.fake.wait_for(lambda: len(self.fake.sent_messages(self.id)) >= want)
        got = self.fake.sent_messages(self.id)[self.seen : want]
        self.seen = want
        return got

    async def unanswered(self, text: str) -> None:
        """A message to the ticket: stored, relayed, not answered by the bot."""
        await self.api.telegram(text_update(self.id, text, update_id=new_update_id()))

        async def stored() -> bool:
            return text in await self.transcript()

        await wait_until(stored, timeout=10, what="the message in the transcript")

    async def transcript(self) -> list[str | None]:
        db = Database(self.api.settings.database_url)
        try:
            async with db.session() as s:
                customer = await CustomerRepository(s).find_by_identity("telegram", str(self.id))
                if customer is None:
                    return []
                return [m.text for m in await MessageRepository(s).transcript(customer.id)]
        finally:
            await db.dispose()


def _buttons(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [b["callback_data"] for row in rows for b in row]


async def _close(api: Api, token: str, chat: Chat, messages: int) -> list[dict[str, Any]]:
    [ticket] = await api.tickets(token)
    if ticket["status"] != "assigned":
        await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
    await api.ok("POST", f"/api/tickets/{ticket['id']}/close", token, {"resolution": "done"})
    return await chat.next(messages)


async def _booking_handed_over(api: Api, fake: FakeTelegram) -> tuple[str, Chat]:
    """A booking up to its summary (the name from Telegram, the phone typed), then a person."""
    _, token = await api.add_agent("oksana", ["general", "bookings"], ["uk", "en"])
    chat = Chat(api, fake)
    [asked] = await chat.say("book a teeth cleaning tomorrow at 3pm")
    assert "phone number" in asked["text"]
    # the summary comes in two messages, the first taking the share-phone keyboard away
    summary, _ = await chat.say("0671234567", replies=2)
    assert "Phone: +380671234567" in summary["text"]
    await chat.say("can I talk to a person please", replies=2)
    return token, chat


async def test_the_rating_first_then_the_booking_with_what_was_typed(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    token, chat = await _booking_handed_over(api, fake_telegram)
    closed, rating = await _close(api, token, chat, 2)
    assert closed["text"].startswith(EN_CLOSED)
    assert rating["text"].startswith(EN_CSAT) and len(_buttons(rating)) == 5

    thanks, offer = await chat.say("5", replies=2)
    assert thanks["text"] == "Thank you for your rating!"
    assert offer["text"] == EN_RESUME and _buttons(offer) == ["/book_appointment"]
    [ticket] = await api.tickets(token)
    assert ticket["csat"] == 5

    [summary] = await chat.tap("/book_appointment")
    assert "Name: Olena" in summary["text"] and "Phone: +380671234567" in summary["text"]
    [done] = await chat.say("yes")
    assert done["text"].startswith("Done!")


async def test_a_digit_after_small_talk_is_still_the_rating(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    token, chat = await _booking_handed_over(api, fake_telegram)
    await _close(api, token, chat, 2)
    await chat.say("thank you!", replies=2)  # thanks, and the booking's question again
    thanks, offer = await chat.say("4", replies=2)
    assert thanks["text"] == "Thank you for your rating!" and offer["text"] == EN_RESUME
    [ticket] = await api.tickets(token)
    assert ticket["csat"] == 4


async def test_a_typed_yes_to_the_offer_shows_the_booking_again(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    token, chat = await _booking_handed_over(api, fake_telegram)
    await _close(api, token, chat, 2)
    await chat.say("five stars", replies=2)
    [summary] = await chat.say("yes")  # continues: the summary, not the booking made unseen
    assert "Please check your booking" in summary["text"]


async def test_english_while_waiting_is_the_language_of_the_close(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    _, token = await api.add_agent("taras", ["general"], ["uk", "en"])
    chat = Chat(api, fake_telegram)
    [greeting] = await chat.say("/start")  # a Ukrainian Telegram app: greeted in Ukrainian
    assert greeting["text"].startswith("Вітаю")
    notices = await chat.say("покличте людину", replies=2)
    assert "колез" in notices[0]["text"].lower()
    await chat.unanswered("sorry, I don't speak Ukrainian, can you write in English please")
    closed, rating = await _close(api, token, chat, 2)
    assert closed["text"].startswith(EN_CLOSED)
    assert rating["text"].startswith(EN_CSAT)
    [thanks] = await chat.say("5")
    assert thanks["text"] == "Thank you for your rating!"


async def test_ukrainian_while_waiting_keeps_ukrainian(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    _, token = await api.add_agent("iryna", ["general"], ["uk", "en"])
    chat = Chat(api, fake_telegram)
    await chat.say("/start")
    await chat.say("покличте людину", replies=2)
    await chat.unanswered("ok")  # too short to tell: the language stays
    _, rating = await _close(api, token, chat, 2)
    assert rating["text"].startswith(UK_CSAT)
