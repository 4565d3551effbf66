"""Issue 17: the wait a customer is promised comes from the real queue and the agents' states.

Nobody online who serves the queue, outside business hours, or a wait beyond
OMNIRELAY_HANDOFF_CALLBACK_AFTER_MINUTES: no "about 5 min", but a call back (on the phone they
shared or one they give) or a message, offered with buttons on the channel they wrote from, and
the choice recorded on the ticket for the agents. Through the real app on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import callback_update, contact_update, text_update
from tests.handoff.conftest import Api

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _texts(replies: list[Any]) -> str:
    return "\n".join(r["text"] for r in replies)


def _payloads(replies: list[Any]) -> list[str]:
    return [b.get("payload") for r in replies for b in r.get("buttons") or []]


async def _detail(api: Api) -> dict[str, Any]:
    [ticket] = await api.tickets()
    return dict(await api.ok("GET", f"/api/tickets/{ticket['id']}"))


async def test_nobody_online_offers_a_call_back_not_minutes(api: Api) -> None:
    await api.add_agent("off-duty", ["general"], online=False)
    replies = await api.rest("no-agents-en", "I want to talk to a person", language="en")
    text = _texts(replies)
    assert "min" not in text and "No colleague is online" in text
    assert _payloads(replies) == ["/handoff_callback", "/handoff_message"]
    asked = await api.rest("no-agents-en", payload="/handoff_callback")
    assert "What number should we call" in _texts(asked) and asked[-1]["request_phone"]
    again = await api.rest("no-agents-en", "tomorrow maybe")
    assert "doesn't look like a phone number" in _texts(again)
    done = await api.rest("no-agents-en", "050 123 45 67")
    assert "call you at +380501234567" in _texts(done)
    detail = await _detail(api)
    assert detail["status"] == "queued"  # it still waits for the first agent to come online
    assert detail["slots"]["customer_chose"] == "callback"
    assert detail["slots"]["callback_phone"] == "+380501234567"
    kinds = [e["kind"] for e in detail["events"]]
    assert "callback_requested" in kinds
    # what the customer wrote while waiting is the ticket's, and the bot is silent again
    assert await api.rest("no-agents-en", "it is about my invoice") == []
    # ... but for another number for the call back
    other = await api.rest("no-agents-en", "+380671234567")
    assert "call you at +380671234567" in _texts(other)
    assert (await _detail(api))["slots"]["callback_phone"] == "+380671234567"


async def test_nobody_online_in_ukrainian_and_a_message_left(api: Api) -> None:
    replies = await api.rest("no-agents-uk", "покличте людину, будь ласка", language="uk")
    text = _texts(replies)
    assert "хв" not in text and "немає колег онлайн" in text
    assert [b["title"] for b in replies[-1]["buttons"]] == [
        "Передзвоніть мені",
        "Залишити повідомлення",
    ]
    left = await api.rest("no-agents-uk", payload="/handoff_message")
    assert "Напишіть, будь ласка, ваше повідомлення" in _texts(left)
    got = await api.rest("no-agents-uk", "Прошу повернути гроші за замовлення")
    assert _texts(got) == "Отримали ваше повідомлення, колега відповість тут."  # once
    assert await api.rest("no-agents-uk", "І ще одне") == []
    detail = await _detail(api)
    assert detail["slots"]["customer_chose"] == "message"
    assert "message_chosen" in [e["kind"] for e in detail["events"]]
    said = [m["text"] for m in detail["transcript"] if m["from"] == "customer"]
    assert "Прошу повернути гроші за замовлення" in said


async def test_an_agent_free_now_is_promised_from_the_queue(api: Api) -> None:
    await api.add_agent("ready", ["general"])
    replies = await api.rest("agent-ready", "I want to talk to a person", language="en")
    assert "about 1 min" in _texts(replies)
    assert _payloads(replies) == []


async def test_a_long_queue_is_not_promised(handoff_settings: Callable[..., Settings]) -> None:
    settings = handoff_settings(handoff_avg_handle_minutes=20, handoff_callback_after_minutes=30)
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        await api.add_agent("solo", ["general"], max_tickets=1)
        first = await api.rest("queue-1", "I want to talk to a person", language="en")
        assert "about 1 min" in _texts(first)  # offered to solo at once
        second = await api.rest("queue-2", "I want to talk to a person", language="en")
        assert "about 20 min" in _texts(second) and _payloads(second) == []
        third = await api.rest("queue-3", "I want to talk to a person", language="en")
        text = _texts(third)
        assert "the wait is about 40 min" in text and "will answer you here in" not in text
        assert _payloads(third) == ["/handoff_callback", "/handoff_message"]


async def test_after_hours_a_shared_phone_is_offered_for_the_call_back(
    handoff_settings: Callable[..., Settings], fake_telegram: FakeTelegram
) -> None:
    kyiv = ZoneInfo("Europe/Kyiv")
    day = (dt.datetime.now(kyiv).weekday() + 2) % 7
    settings = handoff_settings(handoff_business_hours=f"{DAYS[day]} 09:00-10:00")
    chat = new_chat_id()
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        await api.add_agent("day-shift", ["general"], online=False)
        await api.telegram(contact_update(chat, "+380671112233", user_id=chat))
        await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) == 1)
        text = "покличте людину, будь ласка"
        await api.telegram(text_update(chat, text, update_id=new_update_id()))
        await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) >= 3)
        offer = fake_telegram.sent_messages(chat)[-1]
        weekday = ["понеділок", "вівторок", "середу", "четвер", "пʼятницю", "суботу", "неділю"]
        assert f"повернемося у {weekday[day]} з 09:00" in offer["text"]
        assert "передзвонив вам на +380671112233" in offer["text"]
        [ticket] = await api.tickets()
        assert "/handoff_callback" in str(offer.get("reply_markup"))
        await api.telegram(callback_update(chat, "/handoff_callback", update_id=new_update_id()))
        await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) >= 4)
        done = fake_telegram.sent_messages(chat)[-1]["text"]
        assert f"на +380671112233 у {weekday[day]} з 09:00" in done
        detail = await wait_until(
            lambda: _chosen(api, ticket["id"]), timeout=10, what="callback on the ticket"
        )
        assert detail["slots"]["callback_phone"] == "+380671112233"
        assert detail["status"] == "queued"


async def test_a_holiday_says_when_the_team_is_back(
    handoff_settings: Callable[..., Settings],
) -> None:
    today = dt.datetime.now(ZoneInfo("Europe/Kyiv")).date()
    settings = handoff_settings(handoff_holidays=[today.isoformat()])
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        replies = await api.rest("holiday", "I want to talk to a person", language="en")
        tomorrow = (today + dt.timedelta(days=1)).strftime("%A")
        assert f"back on {tomorrow} from 00:00" in _texts(replies)
        assert _payloads(replies) == ["/handoff_callback", "/handoff_message"]
        done = await api.rest("holiday", payload="/handoff_callback")
        assert "What number should we call" in _texts(done)
        done = await api.rest("holiday", "+380501234567")
        assert f"call you at +380501234567 on {tomorrow} from 00:00" in _texts(done)


async def _chosen(api: Api, ticket_id: int) -> dict[str, Any] | None:
    detail = dict(await api.ok("GET", f"/api/tickets/{ticket_id}"))
    return detail if detail["slots"].get("customer_chose") else None
