"""The simulator's HTTP side: signed payloads through the real webhooks, replies recorded by the
in-process platform sandboxes, both backends."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from bots.config import Settings
from bots.gateway.simulator import SANDBOX_LOG, wants_simulator
from storage.db import Database
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from tests.simulator.conftest import Simulator


def new_person() -> str:
    return "t" + uuid.uuid4().hex[:12]


async def transcript(sim: Simulator, channel: str, user_id: str) -> list[Any]:
    db = Database(sim.settings.database_url)
    try:
        async with db.session() as s:
            customer = await CustomerRepository(s).find_by_identity(channel, user_id)
            assert customer is not None
            return list(await MessageRepository(s).transcript(customer.id))
    finally:
        await db.dispose()


async def test_pages(simulator: Simulator) -> None:
    async with simulator.http.get(simulator.base_url + "/") as r:
        assert r.status == 200 and r.content_type == "text/html"
        page = await r.text()
    assert "/simulator/assets/simulator.js" in page
    for tab in ("Telegram", "Viber", "Instagram"):
        assert f'data-tab="{tab.lower()}"' in page
    async with simulator.http.get(simulator.base_url + "/simulator/assets/simulator.js") as r:
        assert r.status == 200 and "javascript" in r.content_type
    async with simulator.http.get(simulator.base_url + "/simulator/assets/secrets.txt") as r:
        assert r.status == 404
    # the REST web chat stays reachable
    async with simulator.http.get(simulator.base_url + "/chat") as r:
        assert r.status == 200 and "/webhooks/rest" in await r.text()


async def test_telegram_text_and_inline_button(simulator: Simulator) -> None:
    person = new_person()
    sent = await simulator.send("telegram", person, text="hi")
    assert sent["webhook_status"] == 200
    (greeting,) = await simulator.replies("telegram", person, 1)
    assert "order" in greeting["text"].lower()
    keyboard = greeting["markup"]["inline_keyboard"]
    data = [b["callback_data"] for row in keyboard for b in row]
    assert "/check_order_status" in data
    # the tap is a real callback_query with that data
    await simulator.send(
        "telegram",
        person,
        action="button",
        payload="/check_order_status",
        message_id=greeting["extra"]["message_id"],
    )
    (ask,) = await simulator.replies("telegram", person, 1, after=greeting["seq"])
    assert "order number" in ask["text"]
    rows = await transcript(simulator, "telegram", sent["user_id"])
    assert [r.payload for r in rows if r.direction == "in"] == [None, "/check_order_status"]


async def test_viber_open_text_and_keyboard(simulator: Simulator) -> None:
    person = new_person()
    opened = await simulator.send("viber", person, action="open")
    assert opened["webhook_status"] == 200
    (welcome,) = await simulator.replies("viber", person, 1)
    assert welcome["via"] == "webhook-response" and "A1001" in welcome["text"]
    await simulator.send("viber", person, text="hello")
    (greeting,) = await simulator.replies("viber", person, 1, after=welcome["seq"])
    buttons = greeting["markup"]["Buttons"]
    tap = next(b for b in buttons if b["ActionBody"].endswith("/check_order_status"))
    await simulator.send(
        "viber",
        person,
        action="button",
        text=tap["ActionBody"],
        tracking_data=greeting["extra"]["tracking_data"],
    )
    (ask,) = await simulator.replies("viber", person, 1, after=greeting["seq"])
    assert "order number" in ask["text"]
    rows = await transcript(simulator, "viber", opened["user_id"])
    assert [r.text for r in rows if r.direction == "in"] == ["hello", tap["Text"]]


async def test_instagram_ukrainian_and_quick_reply(simulator: Simulator) -> None:
    person = new_person()
    sent = await simulator.send("instagram", person, text="привіт", language="uk")
    assert sent["webhook_status"] == 200
    assert "\\u043f" in sent["sent"]  # Meta's escaped wire form, signed as such
    (greeting,) = await simulator.replies("instagram", person, 1)
    assert "Вітаю" in greeting["text"]
    quick = {q["payload"]: q["title"] for q in greeting["markup"]}
    await simulator.send(
        "instagram",
        person,
        action="button",
        text=quick["/check_order_status"],
        payload="/check_order_status",
    )
    replies = await simulator.replies("instagram", person, 1, after=greeting["seq"])
    assert "A1001" in replies[0]["text"]  # "send me your order number (like A1001)"


@pytest.mark.parametrize("channel", ["telegram", "viber", "instagram"])
async def test_share_phone(simulator: Simulator, channel: str) -> None:
    person = new_person()
    sent = await simulator.send(channel, person, action="contact", phone="+380671112233")
    assert sent["webhook_status"] == 200
    await simulator.replies(channel, person, 1)
    if channel == "telegram":
        contact = _json(sent["sent"])["message"]["contact"]
        # the platform's own contact button: the sender's own number
        assert contact["user_id"] == int(sent["user_id"])
        assert contact["phone_number"] == "380671112233"
    elif channel == "viber":
        message = _json(sent["sent"])["message"]
        assert message == {
            "type": "contact",
            "contact": {"name": "Simulated customer", "phone_number": "+380671112233"},
        }
    else:  # no contact button on Instagram: the phone is typed
        item = _json(sent["sent"])["entry"][0]["messaging"][0]
        assert item["message"]["text"] == "+380671112233"


def _json(text: str) -> Any:
    import json

    return json.loads(text)


async def test_bad_requests_are_answered_clearly(simulator: Simulator) -> None:
    url = simulator.base_url + "/simulator"
    cases: list[tuple[str, Any, int]] = [
        ("/telegram/send", {"person": "bad person!", "text": "hi"}, 400),
        ("/telegram/send", {"person": "p1", "action": "dance"}, 400),
        ("/telegram/send", {"person": "p1", "action": "text", "text": "  "}, 400),
        ("/viber/send", {"person": "p1", "text": "hi", "phone": "call me"}, 400),
        ("/instagram/send", {"person": "p1", "action": "button", "text": "x"}, 400),
        ("/whatsapp/send", {"person": "p1", "text": "hi"}, 404),
        ("/telegram/send", [1, 2], 400),
    ]
    for path, body, status in cases:
        async with simulator.http.post(url + path, json=body) as r:
            assert r.status == status, (path, body, await r.text())
            if status == 400:
                assert "error" in await r.json()
    async with simulator.http.post(url + "/viber/send", data=b"{oops") as r:
        assert r.status == 400
    async with simulator.http.get(
        url + "/viber/updates", params={"person": "p1", "after": "x"}
    ) as r:
        assert r.status == 400


async def test_sandboxes_answer_like_the_platforms(simulator: Simulator) -> None:
    base = simulator.base_url + "/sandbox"
    start = simulator.app[SANDBOX_LOG].last_seq
    async with simulator.http.post(base + "/telegram/bot1:wrong/sendMessage", json={}) as r:
        assert r.status == 401
        assert await r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    async with simulator.http.post(
        base + "/viber/pa/send_message", json={"auth_token": "wrong", "receiver": "x"}
    ) as r:
        assert r.status == 200 and (await r.json())["status"] == 2
    async with simulator.http.post(
        base + "/instagram/v21.0/me/messages",
        json={"recipient": {"id": "1"}, "message": {"text": "hi"}},
        headers={"Authorization": "Bearer wrong"},
    ) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == 190
    assert simulator.app[SANDBOX_LOG].last_seq == start  # nothing was recorded


async def test_timeline_tags_each_message_with_its_channel(simulator: Simulator) -> None:
    person = new_person()
    await simulator.send("telegram", person, text="hi")
    await simulator.replies("telegram", person, 1)
    await simulator.send("instagram", person, text="hello")
    await simulator.replies("instagram", person, 1)
    async with simulator.http.get(
        simulator.base_url + "/simulator/timeline", params={"person": person}
    ) as r:
        doc = await r.json()
    channels = [(m["channel"], m["from"]) for m in doc["timeline"]]
    assert channels.count(("telegram", "customer")) == 1
    assert channels.count(("instagram", "bot")) == 1
    assert {c for entry in doc["customers"] for c in entry["channels"]} == {
        "telegram",
        "instagram",
    }


def test_simulator_is_on_by_default_only_without_platform_tokens() -> None:
    assert wants_simulator(Settings(_env_file=None))  # type: ignore[call-arg]
    with_token = Settings(_env_file=None, viber_token=SecretStr("real"))  # type: ignore[call-arg]
    assert not wants_simulator(with_token)
    real = SecretStr("real")
    forced = Settings(_env_file=None, viber_token=real, simulator=True)  # type: ignore[call-arg]
    assert wants_simulator(forced)
    off = Settings(_env_file=None, simulator=False)  # type: ignore[call-arg]
    assert not wants_simulator(off)
