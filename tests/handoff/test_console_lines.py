"""What the agent console's timeline shows of messages that are not typed text (issue 17): a
tapped button by its title, never a blank bubble or a raw payload; a shared contact as "shared
phone +380…". Through the real webhooks and the console's API, both backends."""

from __future__ import annotations

from typing import Any

from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import callback_update, contact_update, text_update
from tests.handoff.conftest import Api

SERVICE = '/inform{"service":"cleaning"}'


async def reply(fake: FakeTelegram, chat: int, count: int) -> dict[str, Any]:
    """The bot's `count`-th message to the chat, once it was sent."""
    await fake.wait_for(lambda: len(fake.sent_messages(chat)) >= count, timeout=20)
    return fake.sent_messages(chat)[count - 1]


def keyboard(message: dict[str, Any]) -> list[list[dict[str, Any]]]:
    rows: list[list[dict[str, Any]]] = message["reply_markup"]["inline_keyboard"]
    return rows


def title_of(rows: list[list[dict[str, Any]]], data: str) -> str:
    return str(next(b["text"] for row in rows for b in row if b.get("callback_data") == data))


async def telegram_customer(api: Api, fake: FakeTelegram) -> tuple[int, str]:
    """A Telegram customer who taps a service, shares their phone and asks for a person;
    returns the chat and the service button's title."""
    chat = new_chat_id()
    await api.telegram(
        text_update(chat, "I'd like to book an appointment", update_id=new_update_id())
    )
    services = await reply(fake, chat, 1)
    title = title_of(keyboard(services), SERVICE)
    tap = callback_update(
        chat, SERVICE, message_id=services.get("message_id", 1), keyboard=keyboard(services)
    )
    await api.telegram(tap)
    await reply(fake, chat, 2)
    await api.telegram(contact_update(chat, "380671112233", user_id=chat))
    await reply(fake, chat, 3)
    await api.telegram(text_update(chat, "i want to talk to a human", update_id=new_update_id()))
    await fake.wait_for(
        lambda: any("colleague" in str(m.get("text")) for m in fake.sent_messages(chat)),
        timeout=20,
    )
    return chat, title


async def customer_lines(api: Api) -> list[tuple[Any, Any]]:
    (ticket,) = await api.tickets()
    doc = await api.ok("GET", f"/api/tickets/{ticket['id']}")
    return [(m["shown"], m["kind"]) for m in doc["transcript"] if m["from"] == "customer"]


async def test_telegram_taps_and_contacts_are_shown_in_words(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    _, title = await telegram_customer(api, fake_telegram)
    assert await customer_lines(api) == [
        ("I'd like to book an appointment", None),
        (title, "button"),
        ("shared phone +380671112233 (verified by Telegram)", "contact"),
        ("i want to talk to a human", None),
    ]


async def test_rest_taps_without_a_title_take_the_bot_buttons_title(api: Api) -> None:
    sender = f"rest-{new_chat_id()}"
    (services,) = await api.rest(sender, "I'd like to book an appointment")
    title = next(b["title"] for b in services["buttons"] if b.get("payload") == SERVICE)
    await api.rest(sender, payload=SERVICE)  # an integration sends the payload alone
    await api.rest(sender, payload='/inform{"time":"15:00"}')  # no such button was offered
    await api.rest(sender, "i want to talk to a human")
    lines = await customer_lines(api)
    assert lines[1:3] == [(title, "button"), ("inform: time 15:00", "button")]
    assert all(shown for shown, _ in lines)  # no blank bubble
    # while a person is awaited the bot is silent: the tap is the customer's last message,
    # and the conversations list words it the same way
    assert await api.rest(sender, payload=SERVICE) == []
    doc = await api.ok("GET", "/api/conversations")
    (ticket,) = await api.tickets()
    (mine,) = [c for c in doc["conversations"] if c["customer_id"] == ticket["customer_id"]]
    last = mine["last_message"]
    assert (last["from"], last["text"], last["shown"]) == (
        "customer",
        None,
        "inform: service cleaning",
    )
