"""The service's other entry points: the web chat page, polling mode, an NLU outage."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from storage.db import Database
from storage.repositories.customers import CustomerRepository
from tests.bots.conftest import Service, new_chat_id, new_update_id
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, text_update


async def test_web_chat_page(service: Service) -> None:
    resp = await service.client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    if service.settings.scale_out:  # no public key set: the page says how to turn it on
        assert "OMNIRELAY_WEBCHAT_PUBLIC_KEY" in page and "<script" not in page
    else:  # one process: the web chat widget with the demo key (tests/webchat/)
        assert '<script src="/webchat/widget.js" data-key="demo"' in page


async def test_polling_mode_answers_without_a_webhook(
    make_settings: Callable[..., Settings], fake_telegram: FakeTelegram
) -> None:
    settings = make_settings(
        telegram_token=DEFAULT_TOKEN,
        telegram_api_base=fake_telegram.base_url,
        telegram_mode="polling",
    )
    chat = new_chat_id()
    async with TestClient(TestServer(create_app(settings))) as client:
        # no webhook route in polling mode
        assert (await client.post("/webhooks/telegram", json={})).status in (404, 405)
        fake_telegram.push_update(text_update(chat, "hello", update_id=new_update_id()))
        await fake_telegram.wait_for(
            lambda: len(fake_telegram.sent_messages(chat_id=chat)) == 1, timeout=15
        )
    assert fake_telegram.calls_to("deleteWebhook")  # polling first drops any webhook


@pytest.fixture
async def broken_rasa() -> AsyncIterator[FakeRasa]:
    async with FakeRasa(mode="error") as rasa:
        yield rasa


async def test_nlu_outage_ends_in_an_apology_and_an_escalation(
    make_settings: Callable[..., Settings],
    fake_telegram: FakeTelegram,
    broken_rasa: FakeRasa,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The NLU server answers errors: the turn is retried, then the customer is told and the
    conversation is marked for a person; nothing is lost or answered twice."""
    caplog.set_level(logging.WARNING)
    settings = make_settings(
        telegram_token=DEFAULT_TOKEN,
        telegram_webhook_secret="s3cret",
        telegram_api_base=fake_telegram.base_url,
        nlu_backend="rasa",
        rasa_url=broken_rasa.url,
    )
    chat = new_chat_id()
    async with TestClient(TestServer(create_app(settings))) as client:
        resp = await client.post(
            "/webhooks/telegram",
            json=text_update(chat, "hello", update_id=new_update_id()),
            headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"},
        )
        assert resp.status == 200
        await fake_telegram.wait_for(
            lambda: len(fake_telegram.sent_messages(chat_id=chat)) == 1, timeout=20
        )
        (apology,) = fake_telegram.sent_messages(chat_id=chat)
        assert "something went wrong" in apology["text"]
        assert len(broken_rasa.requests) == 3  # two retries, then the apology
        db = Database(settings.database_url)
        try:
            async with db.session() as s:
                customer = await CustomerRepository(s).find_by_identity("telegram", str(chat))
        finally:
            await db.dispose()
        assert customer is not None
        from bots.keys import BACKENDS

        session = await client.app[BACKENDS].sessions.get(customer.id)
        assert session.handoff == "pending"
        assert session.escalation is not None
        assert session.escalation.reason == "processing_error"
    assert any("retried" in r.getMessage() for r in caplog.records)


async def test_readyz_tells_the_truth_when_the_database_is_down(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nothing")
    async with TestClient(TestServer(create_app(settings, "gateway"))) as client:
        assert (await client.get("/healthz")).status == 200  # alive...
        ready = await client.get("/readyz")  # ...but not ready
        assert ready.status == 503
        body = await ready.json()
        assert body["checks"]["database"].startswith("error")
