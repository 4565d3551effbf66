"""POST /webhooks/telegram through a real aiohttp server, with real update JSON."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bots.channels.telegram import SECRET_HEADER, TelegramChannel, TelegramConfigError
from bots.messages import ChannelEvent, EventKind, InboundMessage
from tests.channels.conftest import SECRET, RecordingIngress
from tests.fakes.telegram import (
    DEFAULT_TOKEN,
    FakeTelegram,
    callback_update,
    contact_update,
    edited_update,
    my_chat_member_update,
    poll_update,
    start_update,
    text_update,
)

Client = TestClient[web.Request, web.Application]
CHAT = 380_501_234


async def post(client: Client, update: Any, secret: str | None = SECRET) -> tuple[int, Any]:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    if isinstance(update, bytes):
        resp = await client.post("/webhooks/telegram", data=update, headers=headers)
    else:
        resp = await client.post("/webhooks/telegram", json=update, headers=headers)
    return resp.status, await resp.json()


def only_message(ingress: RecordingIngress) -> InboundMessage:
    assert len(ingress.events) == 1
    event = ingress.events[0]
    assert isinstance(event, InboundMessage)
    return event


async def test_text_message_becomes_inbound_message(
    telegram_client: Client, ingress: RecordingIngress
) -> None:
    update = text_update(CHAT, "Де моє замовлення 12345?")
    assert await post(telegram_client, update) == (200, {})
    msg = only_message(ingress)
    assert msg.channel == "telegram"
    assert msg.user_id == str(CHAT)
    assert msg.message_id == str(update["update_id"])
    assert msg.text == "Де моє замовлення 12345?"
    assert msg.language_hint == "uk"
    assert msg.user_name == "Olena"
    assert msg.timestamp.timestamp() == update["message"]["date"]
    assert msg.raw == update
    assert not msg.edited


async def test_same_update_twice_is_one_event(
    telegram_client: Client, ingress: RecordingIngress
) -> None:
    update = text_update(CHAT, "hello")
    assert (await post(telegram_client, update))[0] == 200
    assert (await post(telegram_client, update))[0] == 200
    assert len(ingress.events) == 1


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
async def test_wrong_or_missing_secret_is_401_and_nothing_accepted(
    telegram_client: Client, ingress: RecordingIngress, secret: str | None
) -> None:
    status, body = await post(telegram_client, text_update(CHAT, "hi"), secret=secret)
    assert status == 401
    assert "error" in body
    assert ingress.events == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"message": {"text": "no update id"}}',
        b'{"update_id": 5, "message": {"text": "no chat"}}',
    ],
)
async def test_malformed_body_is_400_with_a_warning(
    telegram_client: Client,
    ingress: RecordingIngress,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bots.channels.telegram"):
        status, answer = await post(telegram_client, body)
    assert status == 400
    assert answer["error"]
    assert ingress.events == []
    assert any("malformed update" in r.getMessage() for r in caplog.records)
    # The service keeps serving.
    assert (await post(telegram_client, text_update(CHAT, "still there")))[0] == 200


async def test_unknown_update_kind_is_acknowledged_and_ignored(
    telegram_client: Client, ingress: RecordingIngress, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bots.channels.telegram_parse"):
        assert await post(telegram_client, poll_update()) == (200, {})
        future_kind = {"update_id": 99, "some_future_update": {"x": 1}}
        assert await post(telegram_client, future_kind) == (200, {})
    assert ingress.events == []
    assert any("poll" in r.getMessage() for r in caplog.records)


async def test_group_message_is_ignored(telegram_client: Client, ingress: RecordingIngress) -> None:
    update = text_update(CHAT, "hi all")
    update["message"]["chat"] = {"id": -100123, "title": "Shop", "type": "supergroup"}
    assert await post(telegram_client, update) == (200, {})
    assert ingress.events == []


async def test_callback_query_gives_payload_and_is_answered(
    telegram_client: Client, ingress: RecordingIngress, fake_telegram: FakeTelegram
) -> None:
    update = callback_update(CHAT, "book:slot:2026-11-23T10:00")
    assert await post(telegram_client, update) == (200, {})
    msg = only_message(ingress)
    assert msg.payload == "book:slot:2026-11-23T10:00"
    assert msg.user_id == str(CHAT)
    await fake_telegram.wait_for(1, method="answerCallbackQuery")
    [answer] = fake_telegram.calls_to("answerCallbackQuery")
    assert answer.params["callback_query_id"] == update["callback_query"]["id"]


async def test_callback_answer_failure_does_not_lose_the_tap(
    telegram_client: Client, ingress: RecordingIngress, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next(
        "answerCallbackQuery",
        status=400,
        description="Bad Request: query is too old and response timeout expired "
        "or query ID is invalid",
    )
    assert await post(telegram_client, callback_update(CHAT, "yes")) == (200, {})
    await fake_telegram.wait_for(1, method="answerCallbackQuery")
    assert only_message(ingress).payload == "yes"


async def test_callback_with_digest_payload_reads_the_button_title(
    telegram_client: Client, ingress: RecordingIngress
) -> None:
    data = "~h:abcdefghijklmnopqrstuv"
    keyboard = [[{"text": "Tuesday 10:00", "callback_data": data}]]
    assert await post(telegram_client, callback_update(CHAT, data, keyboard=keyboard)) == (200, {})
    msg = only_message(ingress)
    assert (msg.text, msg.payload) == ("Tuesday 10:00", None)


@pytest.mark.parametrize(
    ("user_id", "phone", "verified", "expected"),
    [
        (CHAT, "380501234567", True, "+380501234567"),
        (CHAT, "+380501234567", True, "+380501234567"),
        (None, "0501234567", False, "0501234567"),  # from the phone book
        (777, "380671112233", False, "380671112233"),  # someone else's contact
    ],
)
async def test_contact_is_trusted_only_when_it_is_the_senders(
    telegram_client: Client,
    ingress: RecordingIngress,
    user_id: int | None,
    phone: str,
    verified: bool,
    expected: str,
) -> None:
    assert await post(telegram_client, contact_update(CHAT, phone, user_id=user_id)) == (200, {})
    msg = only_message(ingress)
    assert msg.contact_phone == expected
    assert msg.contact_verified is verified


async def test_contact_with_null_first_name_is_accepted(
    telegram_client: Client, ingress: RecordingIngress
) -> None:
    update = contact_update(CHAT, "380501234567", user_id=CHAT, first_name=None)
    assert await post(telegram_client, update) == (200, {})
    assert only_message(ingress).contact_verified


async def test_start_with_payload_is_a_deep_link(
    telegram_client: Client, ingress: RecordingIngress
) -> None:
    assert await post(telegram_client, start_update(CHAT, "LINK-7f3a9c")) == (200, {})
    msg = only_message(ingress)
    assert (msg.text, msg.deep_link) == ("/start", "LINK-7f3a9c")


async def test_plain_start_has_no_deep_link(
    telegram_client: Client, ingress: RecordingIngress
) -> None:
    assert await post(telegram_client, start_update(CHAT)) == (200, {})
    msg = only_message(ingress)
    assert (msg.text, msg.deep_link) == ("/start", None)


async def test_edited_message_is_flagged(
    telegram_client: Client, ingress: RecordingIngress
) -> None:
    update = edited_update(CHAT, "12346, sorry")
    assert await post(telegram_client, update) == (200, {})
    msg = only_message(ingress)
    assert msg.edited
    assert msg.text == "12346, sorry"
    assert msg.timestamp.timestamp() == update["edited_message"]["edit_date"]


@pytest.mark.parametrize(
    ("blocked", "kind"), [(True, EventKind.BLOCKED), (False, EventKind.UNBLOCKED)]
)
async def test_my_chat_member_block_and_unblock(
    telegram_client: Client, ingress: RecordingIngress, blocked: bool, kind: EventKind
) -> None:
    update = my_chat_member_update(CHAT, blocked=blocked)
    assert await post(telegram_client, update) == (200, {})
    [event] = ingress.events
    assert isinstance(event, ChannelEvent)
    assert (event.kind, event.user_id, event.event_id) == (
        kind,
        str(CHAT),
        str(update["update_id"]),
    )


def test_webhook_route_refuses_to_exist_without_a_secret(fake_telegram: FakeTelegram) -> None:
    channel = TelegramChannel(DEFAULT_TOKEN, webhook_secret=None, api_base=fake_telegram.base_url)
    with pytest.raises(TelegramConfigError, match="secret"):
        channel.routes(RecordingIngress())


def test_polling_mode_serves_no_webhook() -> None:
    channel = TelegramChannel(DEFAULT_TOKEN, mode="polling")
    assert channel.routes(RecordingIngress()) == []


@pytest.mark.parametrize(
    ("token", "secret"),
    [("not-a-token", SECRET), (DEFAULT_TOKEN, "has space"), (DEFAULT_TOKEN, "")],
)
def test_bad_config_is_rejected_early(token: str, secret: str) -> None:
    with pytest.raises(TelegramConfigError):
        TelegramChannel(token, webhook_secret=secret)
