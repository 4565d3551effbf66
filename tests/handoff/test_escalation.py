"""Escalation triggers and the handoff state across restarts, through the real entry points."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bots.app import create_app
from bots.config import Settings
from handoff.hours import BusinessHours, HoursError
from storage.db import Database
from storage.models import Order
from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.handoff.conftest import ADMIN, Api

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def test_business_hours() -> None:
    hours = BusinessHours("mon-fri 09:00-18:00; sat 10:00-14:00", "Europe/Kyiv")
    kyiv = ZoneInfo("Europe/Kyiv")
    friday_evening = dt.datetime(2026, 11, 20, 19, 0, tzinfo=kyiv)
    assert not hours.is_open(friday_evening)
    assert hours.next_open(friday_evening) == dt.datetime(2026, 11, 21, 10, 0, tzinfo=kyiv)
    assert hours.is_open(dt.datetime(2026, 11, 23, 9, 0, tzinfo=kyiv))
    assert BusinessHours("").is_open(friday_evening)
    for bad in ("mon-fri 9-18", "xyz 09:00-10:00", "mon 10:00-09:00"):
        with pytest.raises(HoursError):
            BusinessHours(bad)


async def test_outside_business_hours_the_customer_is_told_when(
    handoff_settings: Callable[..., Settings],
) -> None:
    kyiv = ZoneInfo("Europe/Kyiv")
    day = DAYS[(dt.datetime.now(kyiv).weekday() + 2) % 7]
    settings = handoff_settings(handoff_business_hours=f"{day} 09:00-10:00")
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        replies = await api.rest("night-owl", "I want to talk to a person")
        texts = " ".join(r["text"] for r in replies)
        weekday = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        assert f"on {weekday[DAYS.index(day)]} from 09:00" in texts
        [ticket] = await api.tickets()
        assert ticket["status"] == "queued"  # it waits for the shift


async def test_business_rules_stale_order_and_complaint_intent(
    handoff_settings: Callable[..., Settings],
) -> None:
    settings = handoff_settings(
        handoff_stale_order_days=5, handoff_complaint_intents=["ask_prices"]
    )
    db = Database(settings.database_url)
    try:
        from bots.demo import seed_demo

        await seed_demo(db)
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=9)
        async with db.transaction() as s:
            await s.execute(update(Order).where(Order.number == "A1003").values(created_at=old))
    finally:
        await db.dispose()
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        replies = await api.rest("late-order", "where is my order A1003?")
        assert "A1003" in replies[0]["text"] and "No colleague is online" in replies[-1]["text"]
        assert await api.rest("fresh-order", "order A1001") != []
        replies = await api.rest("pricey", "how much does a cleaning cost?")
        tickets = {t["reason"]: t for t in await api.tickets()}
        assert set(tickets) == {"stale_order", "complaint"}
        assert tickets["stale_order"]["slots"]["order_number"] == "A1003"
        assert tickets["stale_order"]["priority"] == 2
        assert tickets["stale_order"]["queue"]["topic"] == "orders"


async def test_agent_takes_over_on_their_own(api: Api, fake_telegram: FakeTelegram) -> None:
    await api.add_agent("mark", ["general"])  # online, idle: routing would pick him
    _, bookings = await api.add_agent("bohdana", ["bookings"])
    lida_id, token = await api.add_agent("lida", ["general", "orders"])
    chat = new_chat_id()
    await api.telegram(text_update(chat, "hello", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) == 1)
    customer_id = await _customer_of(api, chat)
    # the conversation would land in a queue she does not work in: refused, nothing opened
    status, refused = await api.call("POST", "/api/tickets", bookings, {"customer_id": customer_id})
    assert status == 403 and "general/en" in refused["error"]
    assert await api.tickets() == []
    ticket = await api.ok("POST", "/api/tickets", token, {"customer_id": customer_id})
    assert ticket["status"] == "assigned" and ticket["reason"] == "agent_initiated"
    assert ticket["agent_id"] == lida_id  # taken straight away, never offered to mark
    detail = await api.ok("GET", f"/api/tickets/{ticket['id']}", token)
    assert [e["kind"] for e in detail["events"]] == ["created", "assigned"]
    await api.ok("POST", f"/api/tickets/{ticket['id']}/messages", token, {"text": "Hi, Lida here"})
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) == 2)
    await api.telegram(text_update(chat, "oh hi", update_id=new_update_id()))
    detail = await wait_until(
        lambda: _transcript_has(api, token, ticket["id"], "oh hi"), timeout=10, what="relay"
    )
    assert detail["transcript"][-1]["from"] == "customer"  # the bot stayed silent
    assert len(fake_telegram.sent_messages(chat)) == 2
    status, _ = await api.call("POST", "/api/tickets", token, {"customer_id": 10**12})
    assert status == 404


async def test_handoff_survives_a_restart(
    handoff_settings: Callable[..., Settings], fake_telegram: FakeTelegram
) -> None:
    settings = handoff_settings()
    chat = new_chat_id()
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        _, token = await api.add_agent("petro", ["general"])
        await api.telegram(text_update(chat, "talk to a human please", update_id=new_update_id()))
        await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) >= 2)
        [ticket] = await api.tickets(token)
        await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
    sent = len(fake_telegram.sent_messages(chat))
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        await api.telegram(text_update(chat, "are you still there?", update_id=new_update_id()))
        detail = await wait_until(
            lambda: _transcript_has(api, token, ticket["id"], "are you still there?"),
            timeout=10,
            what="relay after restart",
        )
        assert detail["status"] == "assigned" and detail["transcript"][-1]["from"] == "customer"
        assert len(fake_telegram.sent_messages(chat)) == sent  # the bot stayed silent
        await api.ok("POST", f"/api/tickets/{ticket['id']}/messages", token, {"text": "Yes!"})
        await fake_telegram.wait_for(
            lambda: fake_telegram.sent_messages(chat)[-1]["text"] == "Yes!"
        )


async def test_outbound_webhook_signed_and_retried(
    handoff_settings: Callable[..., Settings],
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    failures = {"left": 1}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=503)
        received.append((dict(request.headers), body))
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    async with TestServer(receiver) as server:
        settings = handoff_settings(
            handoff_webhook_url=str(server.make_url("/hook")), handoff_webhook_secret="whsec"
        )
        async with TestClient(TestServer(create_app(settings))) as client:
            api = Api(client, settings)
            _, token = await api.add_agent("webhook-agent", ["general"])
            await api.rest("wh-1", "I want to talk to a person")
            [ticket] = await api.tickets(token)
            await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
            await api.rest("wh-1", "still here")
            await api.ok("POST", f"/api/tickets/{ticket['id']}/close", ADMIN, {"resolution": "ok"})
            wanted = {"ticket.created", "ticket.offered", "ticket.assigned"}
            wanted |= {"message.customer", "ticket.closed"}
            await wait_until(
                lambda: wanted <= {h["X-Omnirelay-Event"] for h, _ in received},
                timeout=15,
                what="webhook events",
            )
    for headers, body in received:
        timestamp = headers["X-Omnirelay-Timestamp"]
        mac = hmac.new(b"whsec", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Omnirelay-Signature"], f"sha256={mac}")
        doc = json.loads(body)
        assert doc["kind"] == headers["X-Omnirelay-Event"] and doc["ticket_id"] == ticket["id"]
    relayed = [json.loads(b) for h, b in received if h["X-Omnirelay-Event"] == "message.customer"]
    assert relayed[0]["data"]["text"] == "still here"


async def _customer_of(api: Api, chat: int) -> int:
    from storage.repositories.customers import CustomerRepository

    db = Database(api.settings.database_url)
    try:
        async with db.session() as s:
            customer = await CustomerRepository(s).find_by_identity("telegram", str(chat))
            assert customer is not None
            return customer.id
    finally:
        await db.dispose()


async def _transcript_has(api: Api, token: str, ticket_id: int, text: str) -> Any:
    detail = await api.ok("GET", f"/api/tickets/{ticket_id}", token)
    return detail if any(m["text"] == text for m in detail["transcript"]) else None
