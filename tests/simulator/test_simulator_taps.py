"""The simulator's timeline words what the customer did as the console does (issue 17): a
tapped button by its title (a Telegram tap carries the tapped message's keyboard, as Telegram's
callback does), a shared contact as "shared phone ...", never a raw payload."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import Simulator
from tests.simulator.test_simulator_api import new_person
from tests.simulator.test_simulator_new_person import timeline

ORDER_STATUS = "/check_order_status"


def customer_lines(doc: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [(m["text"], m["kind"]) for m in doc["timeline"] if m["from"] == "customer"]


async def test_telegram_tap_and_contact(simulator: Simulator) -> None:
    person = new_person()
    await simulator.send("telegram", person, text="hi")
    (greeting,) = await simulator.replies("telegram", person, 1)
    buttons = [b for row in greeting["markup"]["inline_keyboard"] for b in row]
    tapped = next(b for b in buttons if b.get("callback_data") == "/check_order_status")
    await simulator.send(
        "telegram",
        person,
        action="button",
        payload=tapped["callback_data"],
        message_id=greeting["extra"]["message_id"],
    )
    await simulator.replies("telegram", person, 1, after=greeting["seq"])
    await simulator.send("telegram", person, action="contact", phone="+380671112233")
    await simulator.replies("telegram", person, 2, after=greeting["seq"])
    lines = customer_lines(await timeline(simulator, person))
    assert lines == [
        ("hi", None),
        (tapped["text"], "button"),
        ("shared phone +380671112233 (verified by Telegram)", "contact"),
    ]


@pytest.mark.parametrize("channel", ["viber", "instagram"])
async def test_taps_on_the_other_channels(simulator: Simulator, channel: str) -> None:
    person = new_person()
    if channel == "viber":
        opened = await simulator.send("viber", person, action="open")
        assert opened["webhook_status"] == 200
        await simulator.replies("viber", person, 1)
    await simulator.send(channel, person, text="hi")
    replies = await simulator.replies(channel, person, 2 if channel == "viber" else 1)
    greeting = replies[-1]
    if channel == "viber":
        tap = next(
            b
            for b in greeting["markup"]["Buttons"]
            if b["ActionBody"].endswith("/check_order_status")
        )
        title = tap["Text"]
        body = {"text": tap["ActionBody"], "tracking_data": greeting["extra"]["tracking_data"]}
    else:
        title = next(
            q["title"] for q in greeting["markup"] if q["payload"] == "/check_order_status"
        )
        body = {"text": title, "payload": "/check_order_status"}
    await simulator.send(channel, person, action="button", **body)
    await simulator.replies(channel, person, 1, after=greeting["seq"])
    lines = customer_lines(await timeline(simulator, person))
    assert (title, "button") in lines
    assert not any("/check_order_status" in str(text) for text, _ in lines)
