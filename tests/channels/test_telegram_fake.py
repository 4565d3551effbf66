"""The fake Bot API itself answers like Telegram, whatever the body encoding."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, text_update

CHAT = 380_501_234
MARKUP = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}


async def call(
    fake: FakeTelegram,
    method: str,
    encoding: str = "json",
    token: str = DEFAULT_TOKEN,
    **params: Any,
) -> tuple[int, dict[str, Any]]:
    url = f"{fake.base_url}/bot{token}/{method}"
    flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with aiohttp.ClientSession() as session:
        if encoding == "json":
            request = session.post(url, json=params)
        elif encoding == "form":
            request = session.post(url, data=flat)
        elif encoding == "multipart":
            form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
            for k, v in flat.items():
                form.add_field(k, v)
            request = session.post(url, data=form)
        else:
            request = session.get(url, params=flat)
        async with request as resp:
            return resp.status, await resp.json()


@pytest.mark.parametrize("encoding", ["json", "form", "multipart", "query"])
async def test_send_message_in_every_encoding(fake_telegram: FakeTelegram, encoding: str) -> None:
    status, body = await call(
        fake_telegram, "sendmessage", encoding, chat_id=CHAT, text="hi", reply_markup=MARKUP
    )
    assert status == 200 and body["ok"] is True
    result = body["result"]
    assert result["chat"] == {"id": CHAT, "type": "private", "first_name": "Customer"}
    assert result["text"] == "hi" and result["reply_markup"] == MARKUP
    assert isinstance(result["date"], int) and result["from"]["is_bot"] is True
    [params] = fake_telegram.sent_messages(CHAT)
    assert params == {"chat_id": CHAT, "text": "hi", "reply_markup": MARKUP}
    assert fake_telegram.calls[0].method == "sendMessage"
    content_types = {
        "json": "application/json",
        "form": "application/x-www-form-urlencoded",
        "multipart": "multipart/form-data",
        "query": "",
    }
    assert fake_telegram.calls[0].content_type == content_types[encoding]


async def test_message_ids_increase(fake_telegram: FakeTelegram) -> None:
    ids = [
        (await call(fake_telegram, "sendMessage", chat_id=CHAT, text="x"))[1]["result"][
            "message_id"
        ]
        for _ in range(3)
    ]
    assert ids == sorted(ids) and len(set(ids)) == 3


async def test_unknown_token_and_method(fake_telegram: FakeTelegram) -> None:
    assert await call(fake_telegram, "getMe", token="1:nope") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    status, body = await call(fake_telegram, "sendRocket")
    assert (status, body["error_code"], body["description"]) == (404, 404, "Not Found")


async def test_scripted_failures_then_success(fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next("sendMessage", status=429, retry_after=2, count=2)
    expected = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 2",
        "parameters": {"retry_after": 2},
    }
    for _ in range(2):
        assert await call(fake_telegram, "sendMessage", chat_id=CHAT, text="x") == (429, expected)
    assert (await call(fake_telegram, "sendMessage", chat_id=CHAT, text="x"))[0] == 200
    assert [c.status for c in fake_telegram.calls] == [429, 429, 200]
    assert len(fake_telegram.sent_messages()) == 1


async def test_bad_requests_like_telegram(fake_telegram: FakeTelegram) -> None:
    status, body = await call(fake_telegram, "sendMessage", chat_id=CHAT, text="")
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    status, body = await call(fake_telegram, "sendMessage", chat_id=CHAT, text="x" * 4097)
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    markup = {"inline_keyboard": [[{"text": "t", "callback_data": "x" * 65}]]}
    status, body = await call(
        fake_telegram, "sendMessage", chat_id=CHAT, text="x", reply_markup=markup
    )
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")


async def test_webhook_methods(fake_telegram: FakeTelegram) -> None:
    hook: dict[str, Any] = {
        "url": "https://b.example/webhooks/telegram",
        "secret_token": "abc",
        "allowed_updates": ["message"],
    }
    assert (await call(fake_telegram, "setWebhook", "form", **hook))[1]["result"] is True
    info = (await call(fake_telegram, "getWebhookInfo"))[1]["result"]
    assert info["url"] == hook["url"] and info["allowed_updates"] == ["message"]
    status, body = await call(fake_telegram, "getUpdates")
    assert status == 409 and body["description"].startswith("Conflict")
    assert (await call(fake_telegram, "deleteWebhook"))[1]["result"] is True
    assert (await call(fake_telegram, "getWebhookInfo"))[1]["result"]["url"] == ""


async def test_get_updates_confirms_by_offset(fake_telegram: FakeTelegram) -> None:
    first, second = text_update(CHAT, "a"), text_update(CHAT, "b")
    fake_telegram.push_update(first)
    fake_telegram.push_update(second)
    assert len((await call(fake_telegram, "getUpdates"))[1]["result"]) == 2
    offset = first["update_id"] + 1
    assert (await call(fake_telegram, "getUpdates", offset=offset))[1]["result"] == [second]


async def test_edit_reply_markup(fake_telegram: FakeTelegram) -> None:
    sent = (await call(fake_telegram, "sendMessage", chat_id=CHAT, text="x", reply_markup=MARKUP))[
        1
    ]
    mid = sent["result"]["message_id"]
    status, body = await call(
        fake_telegram, "editMessageReplyMarkup", "form", chat_id=CHAT, message_id=mid
    )
    assert status == 200 and "reply_markup" not in body["result"] and body["result"]["edit_date"]
    status, body = await call(fake_telegram, "editMessageReplyMarkup", chat_id=CHAT, message_id=999)
    assert (status, body["description"]) == (400, "Bad Request: message to edit not found")


async def test_control_api(fake_telegram: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as session:
        await session.post(
            f"{fake_telegram.base_url}/_fake/fail", json={"method": "sendMessage", "status": 500}
        )
        await session.post(f"{fake_telegram.base_url}/_fake/updates", json=[text_update(CHAT, "a")])
        assert (await call(fake_telegram, "sendMessage", chat_id=CHAT, text="x"))[0] == 500
        assert (await call(fake_telegram, "sendMessage", chat_id=CHAT, text="y"))[0] == 200
        url = f"{fake_telegram.base_url}/_fake/calls?method=sendMessage&after=0"
        async with session.get(url) as resp:
            body = await resp.json()
    assert [c["status"] for c in body["calls"]] == [500, 200]
    assert body["next"] == 2
    assert len(fake_telegram.state.updates) == 1
