"""A real Telegram update in through the webhook, a real sendMessage out at the fake Bot API."""

from __future__ import annotations

import io
import logging

import pytest

from storage.db import Database
from storage.repositories.messages import MessageRepository
from tests.bots.conftest import Service, new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram, text_update


async def transcript_for_chat(service: Service, chat_id: int) -> list[object]:
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            from storage.repositories.customers import CustomerRepository

            repo = CustomerRepository(s)
            customer = await repo.find_by_identity("telegram", str(chat_id))
            if customer is None:
                return []
            return list(await MessageRepository(s).transcript(customer.id))
    finally:
        await db.dispose()


async def test_text_update_gets_a_reply(service: Service, fake_telegram: FakeTelegram) -> None:
    chat = new_chat_id()
    resp = await service.telegram(text_update(chat, "hello", update_id=new_update_id()))
    assert resp.status == 200
    await fake_telegram.wait_for(1, method="sendMessage")
    sent = fake_telegram.sent_messages(chat_id=chat)
    assert len(sent) == 1
    assert "order" in sent[0]["text"].lower()
    # the greeting offers buttons, rendered as an inline keyboard
    keyboard = sent[0]["reply_markup"]["inline_keyboard"]
    assert any(b["callback_data"] == "/check_order_status" for row in keyboard for b in row)
    rows = await wait_until(
        lambda: _sent_rows(service, chat), timeout=10, what="transcript with a sent reply"
    )
    directions = [(r.direction, r.sender_kind, r.status) for r in rows]
    assert directions == [("in", "customer", "received"), ("out", "bot", "sent")]


async def _sent_rows(service: Service, chat: int) -> list[object] | None:
    rows = await transcript_for_chat(service, chat)
    return rows if len(rows) == 2 and rows[1].status == "sent" else None  # type: ignore[attr-defined]


async def test_order_status_in_ukrainian(service: Service, fake_telegram: FakeTelegram) -> None:
    chat = new_chat_id()
    await service.telegram(text_update(chat, "де моє замовлення A1001", update_id=new_update_id()))
    await fake_telegram.wait_for(1, method="sendMessage")
    text = fake_telegram.sent_messages(chat_id=chat)[0]["text"]
    assert "A1001" in text
    assert "в дорозі" in text  # shipped, in plain Ukrainian words
    assert "20450012345678" not in text  # not this chat's order: no tracking number


async def test_order_number_asked_then_given(service: Service, fake_telegram: FakeTelegram) -> None:
    chat = new_chat_id()
    await service.telegram(text_update(chat, "where is my order", update_id=new_update_id()))
    await fake_telegram.wait_for(1, method="sendMessage")
    assert "order number" in fake_telegram.sent_messages(chat_id=chat)[0]["text"]
    await service.telegram(text_update(chat, "A1003", update_id=new_update_id()))
    await fake_telegram.wait_for(2, method="sendMessage")
    second = fake_telegram.sent_messages(chat_id=chat)[1]["text"]
    assert "A1003" in second and "paid" in second
    await service.telegram(text_update(chat, "A9999", update_id=new_update_id()))
    # a finished flow: an unknown-looking number now starts the order flow again
    await fake_telegram.wait_for(3, method="sendMessage")
    third = fake_telegram.sent_messages(chat_id=chat)[2]["text"]
    assert "A9999" in third and "couldn't find" in third


async def test_same_update_twice_one_reply(service: Service, fake_telegram: FakeTelegram) -> None:
    chat = new_chat_id()
    update = text_update(chat, "hi", update_id=new_update_id())
    first = await service.telegram(update)
    second = await service.telegram(update)
    assert (first.status, second.status) == (200, 200)
    await fake_telegram.wait_for(1, method="sendMessage")
    # a later message proves the pipeline moved on; still only one reply to the duplicate
    await service.telegram(text_update(chat, "thanks", update_id=new_update_id()))
    await fake_telegram.wait_for(2, method="sendMessage")
    texts = [m["text"] for m in fake_telegram.sent_messages(chat_id=chat)]
    assert len(texts) == 2 and "welcome" in texts[1].lower()


async def test_wrong_secret_is_rejected_and_nothing_processed(
    service: Service, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    chat = new_chat_id()
    for secret in ("wrong", None):
        resp = await service.telegram(
            text_update(chat, "hi", update_id=new_update_id()), secret=secret
        )
        assert resp.status == 401
        assert "error" in await resp.json()
    # prove nothing was enqueued: a good update afterwards is the only thing answered
    await service.telegram(text_update(chat, "hi", update_id=new_update_id()))
    await fake_telegram.wait_for(1, method="sendMessage")
    assert len(fake_telegram.sent_messages(chat_id=chat)) == 1
    rows = await transcript_for_chat(service, chat)
    assert [r.direction for r in rows].count("in") == 1  # type: ignore[attr-defined]


async def test_malformed_and_oversized_bodies(
    service: Service, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": "test-secret_token-1"}
    caplog.set_level(logging.WARNING)
    bad = await service.client.post("/webhooks/telegram", data=b"{not json", headers=headers)
    assert bad.status == 400
    assert "error" in await bad.json()
    huge = b'{"update_id": 1, "message": {"text": "' + b"x" * (2 * 1024 * 1024) + b'"}}'
    too_big = await service.client.post(
        "/webhooks/telegram", data=io.BytesIO(huge), headers=headers
    )
    assert too_big.status == 413
    rest_bad = await service.client.post("/webhooks/rest", data=b"[1, 2")
    assert rest_bad.status == 400
    # and the service keeps serving
    chat = new_chat_id()
    ok = await service.telegram(text_update(chat, "hello", update_id=new_update_id()))
    assert ok.status == 200
    await fake_telegram.wait_for(1, method="sendMessage")
    assert (await service.client.get("/healthz")).status == 200
    assert any(
        "malformed" in r.getMessage().lower() or "invalid" in r.getMessage().lower()
        for r in caplog.records
    )
