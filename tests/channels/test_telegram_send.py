"""TelegramChannel.send, start and poll with the real aiogram client against the fake Bot API."""

from __future__ import annotations

import asyncio

import pytest

from bots.channels.base import SendContext
from bots.channels.errors import (
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    TransientSendError,
)
from bots.channels.telegram import TelegramChannel
from bots.channels.telegram_render import callback_data
from bots.messages import Button, InboundMessage, OutboundMessage
from tests.channels.conftest import SECRET, RecordingIngress
from tests.fakes import wait_until
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, callback_update, text_update

CHAT = 380_501_234
CTX = SendContext()


async def test_send_text(telegram: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    sent = await telegram.send(str(CHAT), OutboundMessage(text="Привіт! Чим допомогти?"), CTX)
    [msg] = fake_telegram.sent_messages(CHAT)
    assert msg["chat_id"] == CHAT
    assert msg["text"] == "Привіт! Чим допомогти?"
    assert "reply_markup" not in msg
    assert "parse_mode" not in msg  # plain text: templates are not HTML
    # aiogram 3.31 posts form bodies (multipart only when uploading files).
    [call] = fake_telegram.calls_to("sendMessage")
    assert call.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
    assert sent.parts == 1
    assert sent.platform_message_id is not None and sent.platform_message_id.isdigit()


async def test_long_text_is_split(telegram: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    text = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum " * 60 for i in range(12))
    assert len(text) > 4096 * 2
    buttons = (Button("OK", "ok"),)
    sent = await telegram.send(str(CHAT), OutboundMessage(text=text, buttons=buttons), CTX)
    msgs = fake_telegram.sent_messages(CHAT)
    assert sent.parts == len(msgs) == 3
    assert all(len(m["text"]) <= 4096 for m in msgs)
    assert " ".join(m["text"] for m in msgs).split() == text.split()
    # The keyboard goes with the last part, and the id returned is the last part's.
    assert [("reply_markup" in m) for m in msgs] == [False, False, True]


async def test_astral_emoji_text_fits_in_utf16_units(
    telegram: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    sent = await telegram.send(str(CHAT), OutboundMessage(text="🙂" * 3000), CTX)
    assert sent.parts == 2
    assert "".join(m["text"] for m in fake_telegram.sent_messages(CHAT)) == "🙂" * 3000


async def test_buttons_become_an_inline_keyboard(
    telegram: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    long_payload = "slot:" + "x" * 80
    buttons = (
        Button("Так", "confirm:yes"),
        Button("Ні", "confirm:no"),
        Button("Later", long_payload),
    )
    await telegram.send(str(CHAT), OutboundMessage(text="Підтвердити?", buttons=buttons), CTX)
    [msg] = fake_telegram.sent_messages(CHAT)
    keyboard = msg["reply_markup"]["inline_keyboard"]
    assert keyboard == [
        [{"text": "Так", "callback_data": "confirm:yes"}],
        [{"text": "Ні", "callback_data": "confirm:no"}],
        [{"text": "Later", "callback_data": callback_data(long_payload)}],
    ]
    assert len(callback_data(long_payload).encode()) <= 64
    assert callback_data(long_payload) == callback_data(long_payload)  # deterministic


async def test_surplus_buttons_become_a_numbered_list(
    telegram: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    buttons = tuple(Button(f"Option {i}", f"opt:{i}") for i in range(1, 11))
    await telegram.send(str(CHAT), OutboundMessage(text="Choose", buttons=buttons), CTX)
    [msg] = fake_telegram.sent_messages(CHAT)
    assert len(msg["reply_markup"]["inline_keyboard"]) == telegram.limits.max_buttons == 8
    assert msg["text"].endswith("9. Option 9\n10. Option 10")


async def test_long_payload_round_trips_as_the_button_title(
    telegram: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    """What the webhook parser does with a digest, fed with the keyboard the fake echoed."""
    from aiogram.types import Update

    from bots.channels.telegram_parse import normalise

    payload = "faq:" + "very-long-topic-" * 6
    await telegram.send(
        str(CHAT), OutboundMessage(text="?", buttons=(Button("Ціни", payload),)), CTX
    )
    [msg] = fake_telegram.sent_messages(CHAT)
    data = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    raw = callback_update(CHAT, data, keyboard=msg["reply_markup"]["inline_keyboard"])
    [event] = normalise(Update.model_validate(raw), raw)
    assert isinstance(event, InboundMessage)
    assert (event.text, event.payload) == ("Ціни", None)


@pytest.mark.parametrize(
    "buttons", [(), (Button("Поділитися номером", "phone"), Button("Skip", "skip"))]
)
async def test_request_phone_is_a_one_time_contact_keyboard(
    telegram: TelegramChannel, fake_telegram: FakeTelegram, buttons: tuple[Button, ...]
) -> None:
    message = OutboundMessage(text="Ваш номер?", buttons=buttons, request_phone=True)
    await telegram.send(str(CHAT), message, CTX)
    [msg] = fake_telegram.sent_messages(CHAT)
    markup = msg["reply_markup"]
    assert markup["one_time_keyboard"] is True
    first = markup["keyboard"][0][0]
    assert first["request_contact"] is True
    if buttons:
        assert first["text"] == "Поділитися номером"
        assert markup["keyboard"][1] == [{"text": "Skip"}]
    else:
        assert first["text"]


async def test_429_with_retry_after(telegram: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RateLimited) as info:
        await telegram.send(str(CHAT), OutboundMessage(text="hi"), CTX)
    assert info.value.retry_after == 7
    assert info.value.__cause__ is not None


async def test_bare_429_without_parameters(
    telegram: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next("sendMessage", status=429)
    with pytest.raises(RateLimited) as info:
        await telegram.send(str(CHAT), OutboundMessage(text="hi"), CTX)
    assert info.value.retry_after is None


async def test_bare_429_with_the_wait_only_in_the_description(
    telegram: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next(
        "sendMessage", status=429, description="Too Many Requests: retry after 3"
    )
    with pytest.raises(RateLimited) as info:
        await telegram.send(str(CHAT), OutboundMessage(text="hi"), CTX)
    assert info.value.retry_after == 3


@pytest.mark.parametrize(
    ("status", "description", "error"),
    [
        (500, "Internal Server Error", TransientSendError),
        (502, "Bad Gateway", TransientSendError),
        (403, "Forbidden: bot was blocked by the user", RecipientUnreachable),
        (403, "Forbidden: user is deactivated", RecipientUnreachable),
        (400, "Bad Request: chat not found", PermanentSendError),
    ],
)
async def test_errors_are_mapped(
    telegram: TelegramChannel,
    fake_telegram: FakeTelegram,
    status: int,
    description: str,
    error: type[Exception],
) -> None:
    fake_telegram.fail_next("sendMessage", status=status, description=description)
    with pytest.raises(error) as info:
        await telegram.send(str(CHAT), OutboundMessage(text="hi"), CTX)
    assert description in str(info.value)
    assert info.value.__cause__ is not None
    # The next send goes through: no retries inside send, and no state left behind.
    await telegram.send(str(CHAT), OutboundMessage(text="again"), CTX)
    assert [m["text"] for m in fake_telegram.sent_messages(CHAT)] == ["again"]


async def test_network_failure_is_transient(fake_telegram: FakeTelegram) -> None:
    await fake_telegram.stop()  # nothing listens on the port any more
    channel = TelegramChannel(DEFAULT_TOKEN, webhook_secret=SECRET, api_base=fake_telegram.base_url)
    await channel.start()
    try:
        with pytest.raises(TransientSendError):
            await channel.send(str(CHAT), OutboundMessage(text="hi"), CTX)
    finally:
        await channel.close()


async def test_start_registers_the_webhook_with_the_secret(fake_telegram: FakeTelegram) -> None:
    channel = TelegramChannel(
        DEFAULT_TOKEN,
        webhook_secret=SECRET,
        api_base=fake_telegram.base_url,
        public_url="https://bot.example.com/",
    )
    await channel.start()
    await channel.close()
    [call] = fake_telegram.calls_to("setWebhook")
    assert call.params["url"] == "https://bot.example.com/webhooks/telegram"
    assert call.params["secret_token"] == SECRET
    assert {"message", "edited_message", "callback_query", "my_chat_member"} <= set(
        call.params["allowed_updates"]
    )


async def test_start_without_public_url_registers_nothing(
    telegram: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    assert fake_telegram.calls_to("setWebhook") == []


async def test_polling_delivers_updates(fake_telegram: FakeTelegram) -> None:
    fake_telegram.state.webhook.url = "https://old.example.com/hook"  # polling must remove it
    channel = TelegramChannel(
        DEFAULT_TOKEN, api_base=fake_telegram.base_url, mode="polling", poll_timeout=5
    )
    await channel.start()
    ingress = RecordingIngress()
    stop = asyncio.Event()
    first = text_update(CHAT, "one")
    fake_telegram.push_update(first)
    poller = asyncio.create_task(channel.poll(ingress, stop))
    try:
        await wait_until(lambda: len(ingress.events) == 1, what="first update")
        fake_telegram.push_update(text_update(CHAT, "two"))
        fake_telegram.push_update(callback_update(CHAT, "yes"))
        await wait_until(lambda: len(ingress.events) == 3, what="later updates")
        await fake_telegram.wait_for(1, method="answerCallbackQuery")
    finally:
        stop.set()
        await asyncio.wait_for(poller, 5)
        await channel.close()
    assert fake_telegram.calls_to("deleteWebhook")
    texts = [e.text for e in ingress.events if isinstance(e, InboundMessage)]
    assert texts == ["one", "two", "yes"]  # a tap's text: the tapped button's title
    assert ingress.events[0].dedup_key == f"telegram:{first['update_id']}"
    # Confirmed updates are not fetched again.
    offsets = [c.params.get("offset") for c in fake_telegram.calls_to("getUpdates")]
    assert offsets[0] is None
    assert offsets[-1] is not None and offsets[-1] > first["update_id"]
