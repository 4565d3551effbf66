"""Trial findings 1, 2 and 11: an agent's presence is real, a lapsed promise is followed up,
a message left is acknowledged.

An agent who logged out of the console, or whose console has been closed longer than
OMNIRELAY_HANDOFF_PRESENCE_TIMEOUT, is not promised to customers ("about 1 min") nor offered
tickets; an open console event stream or any console request keeps them present. When an offer
lapses and nobody else can take the ticket, the customer is told once, on their channel, with
the call-back / leave-a-message offer. Through the real app on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bots.app import create_app
from bots.config import Settings
from handoff.api import HANDOFF
from handoff.models import Agent
from storage.models import utcnow
from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import callback_update, text_update
from tests.handoff.conftest import Api, next_event, sse_events

ASK = "I want to talk to a person"
ASK_UK = "покличте людину, будь ласка"


def _texts(replies: list[Any]) -> str:
    return "\n".join(r["text"] for r in replies)


def _payloads(replies: list[Any]) -> list[str]:
    return [b.get("payload") for r in replies for b in r.get("buttons") or []]


async def _last_seen(api: Api, agent_id: int, at: dt.datetime) -> None:
    """The agent's console was last heard of at ``at`` (it was closed then)."""
    async with api.client.app[HANDOFF].db.transaction() as s:
        await s.execute(update(Agent).where(Agent.id == agent_id).values(last_seen_at=at))


async def test_logging_out_sets_the_agent_away_and_nobody_is_promised(api: Api) -> None:
    await api.add_agent("olena", ["general"], password="secret", online=False)
    resp = await api.client.post("/console/login", data={"name": "olena", "password": "secret"})
    csrf = {"X-CSRF-Token": (await resp.json())["csrf_token"]}
    online = await api.client.post("/api/me/status", json={"status": "online"}, headers=csrf)
    assert online.status == 200
    out = await api.client.post("/console/logout", headers=csrf)
    assert out.status == 200
    [agent] = (await api.ok("GET", "/api/agents"))["agents"]
    assert agent["status"] == "away"
    replies = await api.rest("after-logout", ASK, language="en")
    assert "min" not in _texts(replies) and "No colleague is online" in _texts(replies)
    assert _payloads(replies) == ["/handoff_callback", "/handoff_message"]
    [ticket] = await api.tickets()
    assert ticket["status"] == "queued"  # not offered to the agent who left


async def test_a_closed_console_stops_counting_and_an_open_one_counts(api: Api) -> None:
    agent_id, token = await api.add_agent("mykola", ["general"])
    await _last_seen(api, agent_id, utcnow() - dt.timedelta(minutes=10))
    replies = await api.rest("console-closed", ASK, language="en")
    assert "No colleague is online" in _texts(replies) and "about 1 min" not in _texts(replies)
    [ticket] = await api.tickets()
    assert ticket["status"] == "queued"
    async with sse_events(api.client, token) as events:
        # the open console's event stream makes the agent present: the waiting ticket and
        # the next customer's are offered to them
        await api.client.app[HANDOFF].tick()
        await next_event(events, "ticket.offered")
        replies = await api.rest("console-open", ASK, language="en")
        assert "about 1 min" in _texts(replies) and _payloads(replies) == []


async def _sent(fake: FakeTelegram, chat: int, count: int) -> list[dict[str, Any]]:
    await fake.wait_for(lambda: len(fake.sent_messages(chat)) >= count)
    return list(fake.sent_messages(chat))


async def test_a_lapsed_offer_is_followed_up_once_and_a_message_left_acknowledged(
    handoff_settings: Callable[..., Settings], fake_telegram: FakeTelegram
) -> None:
    # the agent still counts as present when the offer lapses: only "not seen since the
    # offer was made" keeps it from being offered to them again
    settings = handoff_settings(handoff_presence_timeout=3600)
    async with TestClient(TestServer(create_app(settings))) as client:
        await _lapse_and_leave_a_message(Api(client, settings), fake_telegram)


async def _lapse_and_leave_a_message(api: Api, fake_telegram: FakeTelegram) -> None:
    agent_id, _ = await api.add_agent("absent", ["general"])
    chat = new_chat_id()
    await api.telegram(text_update(chat, ASK_UK, update_id=new_update_id()))
    promised = await _sent(fake_telegram, chat, 2)  # the hand-over, then the wait
    assert "приблизно за 1 хв" in promised[-1]["text"]
    [ticket] = await api.tickets()
    assert ticket["status"] == "offered" and ticket["agent_id"] == agent_id
    # nothing from the agent since the offer: their console is closed
    service = api.client.app[HANDOFF]
    later = utcnow() + dt.timedelta(seconds=service.config.offer_timeout + 1)
    assert await service.router.expire_offers(later) == 1
    told = await _sent(fake_telegram, chat, 3)
    assert len(told) == 3
    assert "Вибачте" in told[-1]["text"] and "Хочете, щоб колега" in told[-1]["text"]
    assert "/handoff_message" in str(told[-1].get("reply_markup"))
    detail = await api.ok("GET", f"/api/tickets/{ticket['id']}")
    assert detail["status"] == "queued" and detail["agent_id"] is None  # not re-offered
    # told once: further routing says nothing more
    await service.router.route_waiting(later)
    await service.tick()
    # the customer leaves a message: asked for it, then acknowledged once
    await api.telegram(callback_update(chat, "/handoff_message", update_id=new_update_id()))
    asked = (await _sent(fake_telegram, chat, 4))[-1]
    assert "Напишіть, будь ласка, ваше повідомлення" in asked["text"]
    message = "Хочу перенести запис на суботу"
    await api.telegram(text_update(chat, message, update_id=new_update_id()))
    got = (await _sent(fake_telegram, chat, 5))[-1]
    assert got["text"] == "Отримали ваше повідомлення, колега відповість тут."
    await api.telegram(text_update(chat, "і ще одне", update_id=new_update_id()))
    detail = await wait_until(
        lambda: _with_message(api, ticket["id"], "і ще одне"), timeout=10, what="2nd message"
    )
    assert len(fake_telegram.sent_messages(chat)) == 5  # no second acknowledgement
    assert detail["slots"]["message_left"] == message
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds.count("wait_lapsed") == 1 and kinds.count("message_left") == 1


async def _with_message(api: Api, ticket_id: int, text: str) -> dict[str, Any] | None:
    detail = dict(await api.ok("GET", f"/api/tickets/{ticket_id}"))
    said = [m["text"] for m in detail["transcript"] if m["from"] == "customer"]
    return detail if text in said else None


async def test_an_escalation_to_nobody_is_followed_up(
    handoff_settings: Callable[..., Settings], fake_telegram: FakeTelegram
) -> None:
    settings = handoff_settings(handoff_presence_timeout=3600)
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        first, _ = await api.add_agent("first", ["general"])
        second, _ = await api.add_agent("second", ["general"])
        chat = new_chat_id()
        await api.telegram(text_update(chat, ASK_UK, update_id=new_update_id()))
        await _sent(fake_telegram, chat, 2)
        [ticket] = await api.tickets()
        assert ticket["agent_id"] == first
        service = api.client.app[HANDOFF]
        step = dt.timedelta(seconds=service.config.offer_timeout + 1)
        assert await service.router.expire_offers(utcnow() + step) == 1
        detail = await api.ok("GET", f"/api/tickets/{ticket['id']}")
        assert detail["status"] == "offered" and detail["agent_id"] == second
        assert "wait_lapsed" not in [e["kind"] for e in detail["events"]]  # somebody has it
        # the second offer lapses too: escalated to supervisors, and there are none
        assert await service.router.expire_offers(utcnow() + 3 * step) == 1
        told = (await _sent(fake_telegram, chat, 3))[-1]
        assert "Вибачте" in told["text"] and "/handoff_callback" in str(told.get("reply_markup"))
        detail = await api.ok("GET", f"/api/tickets/{ticket['id']}")
        assert detail["status"] == "queued" and detail["priority"] == 2
        assert [e["kind"] for e in detail["events"]].count("wait_lapsed") == 1


async def test_going_away_hands_the_offer_on_at_once(api: Api, fake_telegram: FakeTelegram) -> None:
    agent_id, token = await api.add_agent("leaving", ["general"])
    chat = new_chat_id()
    await api.telegram(text_update(chat, ASK_UK, update_id=new_update_id()))
    await _sent(fake_telegram, chat, 2)
    [ticket] = await api.tickets()
    assert ticket["status"] == "offered" and ticket["agent_id"] == agent_id
    await api.ok("POST", "/api/me/status", token, {"status": "away"})
    [ticket] = await api.tickets()
    assert ticket["status"] == "queued" and ticket["agent_id"] is None
    told = (await _sent(fake_telegram, chat, 3))[-1]  # nobody else: the customer is told
    assert "Вибачте" in told["text"] and "/handoff_message" in str(told.get("reply_markup"))
