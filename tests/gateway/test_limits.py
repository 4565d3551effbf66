"""The per-sender inbound limit through the real webhooks, on both backends: a flood from one
Telegram chat gets its first messages answered, one polite notice and nothing more, while
another customer writing at the same time is answered in full."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from bots.gateway.limits import NOTICE
from bots.keys import METRICS
from storage.db import Database
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from tests.bots.conftest import TG_SECRET, Service, channel_settings, new_chat_id
from tests.fakes.instagram import FakeInstagram
from tests.fakes.telegram import FakeTelegram, text_update
from tests.fakes.viber import FakeViber

BURST = 10


@pytest.fixture
async def limited(
    make_settings: Callable[..., Settings],
    fake_telegram: FakeTelegram,
    fake_viber: FakeViber,
    fake_instagram: FakeInstagram,
) -> AsyncIterator[Service]:
    """The whole app (gateway and worker) with a burst of 10 messages per sender and next to
    no refill, so the test's own duration cannot let another message through."""
    settings = make_settings(
        **channel_settings(fake_telegram, fake_viber, fake_instagram),
        inbound_rate_burst=BURST,
        inbound_rate_per_minute=1e-6,
        outbound_rate_limits=False,
    )
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Service(client, settings)


def update(chat: int, text: str, language: str) -> dict[str, Any]:
    doc = text_update(chat, text)
    doc["message"]["from"]["language_code"] = language
    return doc


async def inbound_texts(settings: Settings, chat: int) -> list[str]:
    db = Database(settings.database_url)
    try:
        async with db.session() as s:
            customer = await CustomerRepository(s).find_by_identity("telegram", str(chat))
            if customer is None:
                return []
            rows = await MessageRepository(s).transcript(customer.id)
            return [r.text for r in rows if r.direction == "in"]
    finally:
        await db.dispose()


def limited_count(service: Service, action: str) -> float:
    value = service.app[METRICS].registry.get_sample_value(
        "omnirelay_inbound_limited_total", {"channel": "telegram", "action": action}
    )
    return value or 0.0


async def test_a_flood_is_noticed_once_and_others_are_answered(
    limited: Service, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bots.gateway.limits")
    flood, english, calm = new_chat_id(), new_chat_id(), new_chat_id()
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    calm_texts = ["hello", "where is my order", "A1001", "thanks", "bye"]
    for i in range(50):
        sends = [(flood, f"hello {i}", "uk")]
        if i < 15:
            sends.append((english, f"hi {i}", "en"))
        if i % 10 == 0:
            sends.append((calm, calm_texts[i // 10], "uk"))
        for chat, text, language in sends:
            resp = await limited.client.post(
                "/webhooks/telegram", json=update(chat, text, language), headers=headers
            )
            assert resp.status == 200, await resp.text()  # a dropped one is acknowledged too

    def answered(chat: int, n: int) -> bool:
        return len(fake_telegram.sent_messages(chat_id=chat)) >= n

    await fake_telegram.wait_for(lambda: answered(calm, 5), timeout=60)
    await fake_telegram.wait_for(lambda: answered(flood, BURST + 1), timeout=60)
    await fake_telegram.wait_for(lambda: answered(english, BURST + 1), timeout=60)
    # the quiet customer: every message stored and answered
    assert await inbound_texts(limited.settings, calm) == calm_texts
    assert len(fake_telegram.sent_messages(chat_id=calm)) == 5
    assert not any(m["text"] in NOTICE.values() for m in fake_telegram.sent_messages(chat_id=calm))
    for chat, language, prefix in ((flood, "uk", "hello"), (english, "en", "hi")):
        sent = [m["text"] for m in fake_telegram.sent_messages(chat_id=chat)]
        assert sent.count(NOTICE[language]) == 1, sent
        assert len(sent) == BURST + 1, sent  # the first ten answered, once each; then the notice
        # the first ten stored in order; nothing of the overflow
        stored = await inbound_texts(limited.settings, chat)
        assert stored == [f"{prefix} {i}" for i in range(BURST)]
    assert limited_count(limited, "noticed") == 2
    logged = [r for r in caplog.records if "over the inbound limit" in r.getMessage()]
    assert len(logged) == 2  # once per flood, not once per dropped message
    assert limited_count(limited, "dropped") == (50 - BURST - 1) + (15 - BURST - 1)
