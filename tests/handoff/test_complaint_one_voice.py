"""Issue 17: a complaint was answered with a "Talk to a person" button and "a colleague will
answer you" at once. One turn says one thing: with the business rule on, the hand-off in one
message; with it off, the offer. And no turn that opens a ticket still offers a person.
Through the real app on both backends, in both languages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from tests.handoff.conftest import Api

HUMAN = "/request_human"


def _payloads(replies: list[Any]) -> list[str]:
    return [b.get("payload") for r in replies for b in r.get("buttons") or []]


async def test_a_complaint_is_handed_off_in_one_message(api: Api) -> None:
    await api.add_agent("kind", ["complaints"])
    replies = await api.rest("angry-en", "my order arrived broken, this is unacceptable")
    assert len(replies) == 1, replies
    text = replies[0]["text"]
    assert "sorry to hear that" in text and "passed it to a colleague" in text
    assert "about 1 min" in text
    assert HUMAN not in _payloads(replies) and "can look into it" not in text
    [ticket] = await api.tickets()
    assert ticket["reason"] == "complaint" and ticket["queue"]["topic"] == "complaints"


async def test_a_complaint_in_ukrainian_with_nobody_online(api: Api) -> None:
    text = "хочу поскаржитися, кур'єр був дуже грубий"
    replies = await api.rest("angry-uk", text, language="uk")
    assert len(replies) == 1, replies
    said = replies[0]["text"]
    assert said.startswith("Мені дуже прикро це чути, я передав це колезі.")
    assert "немає колег онлайн" in said and "Поговорити з людиною" not in said
    assert _payloads(replies) == ["/handoff_callback", "/handoff_message"]


async def test_a_complaint_mid_booking_is_one_message_too(api: Api) -> None:
    await api.add_agent("calm", ["complaints"])
    asked = await api.rest("mid-booking", "I want to book a dental consultation", language="en")
    assert "When would you like to come" in asked[-1]["text"]
    replies = await api.rest(
        "mid-booking", "your receptionist was rude to me, this is unacceptable"
    )
    # neither "sorry, I didn't get that" nor the booking question the colleague now takes over
    assert len(replies) == 1, replies
    assert "sorry to hear that" in replies[0]["text"] and "about 1 min" in replies[0]["text"]
    [ticket] = await api.tickets()
    assert ticket["reason"] == "complaint" and ticket["task"]["flow"] == "booking"
    assert ticket["queue"]["topic"] == "complaints" and ticket["status"] == "offered"


async def test_without_the_rule_the_complaint_is_only_offered(
    handoff_settings: Callable[..., Settings],
) -> None:
    settings = handoff_settings(handoff_complaint_intents=[])
    async with TestClient(TestServer(create_app(settings))) as client:
        api = Api(client, settings)
        replies = await api.rest("offered", "my order arrived broken, this is unacceptable")
        assert len(replies) == 1 and _payloads(replies) == [HUMAN]
        assert "minutes" not in replies[0]["text"] and await api.tickets() == []
        tapped = await api.rest("offered", payload=HUMAN)
        assert HUMAN not in _payloads(tapped)
        [ticket] = await api.tickets()
        assert ticket["reason"] == "customer_asked_for_a_person"
