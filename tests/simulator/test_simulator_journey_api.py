"""The issue's simulator journey at the HTTP level (no browser), both backends: a booking
started on the Instagram tab continues on the Telegram tab through the "Continue in Telegram"
link button, without the service or the date asked again, and the simulator's timeline is one
customer's, with messages from both channels."""

from __future__ import annotations

import uuid
from typing import Any

from bots.gateway.simulator import INSTAGRAM_USERNAME, TELEGRAM_BOT_USERNAME, VIBER_CHAT_URI
from tests.fakes import wait_until
from tests.simulator.conftest import Simulator
from tests.simulator.journey import (
    Tab,
    finish_on_telegram,
    open_day,
    start_code,
    start_on_instagram,
)


async def timeline(sim: Simulator, person: str) -> dict[str, Any]:
    url = f"{sim.base_url}/simulator/timeline"
    async with sim.http.get(url, params={"person": person, "language": "en"}) as r:
        assert r.status == 200
        doc: dict[str, Any] = await r.json()
        return doc


async def test_booking_started_on_instagram_is_finished_on_telegram(simulator: Simulator) -> None:
    person = "j" + uuid.uuid4().hex[:12]
    instagram = Tab(simulator, "instagram", person)
    telegram = Tab(simulator, "telegram", person)

    day = open_day()
    code = await start_on_instagram(instagram, day)
    # the messenger named is the one offered, with what to send there without the button,
    # and no phone asked for (trial 4, G11)
    offer = next(r for r in instagram.seen if "To continue in Telegram" in (r["text"] or ""))
    assert f"/start {code}" in offer["text"]
    assert "phone" not in offer["text"] and "viber://" not in offer["text"]
    assert "ig.me" not in offer["text"]  # no link back to Instagram itself

    reference = await finish_on_telegram(telegram, code, day)
    assert reference.startswith("BK-")
    asked = " ".join((r["text"] or "").lower() for r in telegram.seen)
    assert "which service" not in asked and "when would you like" not in asked

    doc = await timeline(simulator, person)
    assert len(doc["customers"]) == 1, doc["customers"]
    assert set(doc["customers"][0]["channels"]) == {"instagram", "telegram"}
    said = [(m["channel"], m["from"]) for m in doc["timeline"]]
    for channel in ("instagram", "telegram"):
        assert (channel, "customer") in said and (channel, "bot") in said
    texts = [m["text"] or "" for m in doc["timeline"]]
    assert any("teeth cleaning" in t for t in texts)
    assert any(reference in t for t in texts)


def test_simulator_settings_offer_the_continue_links() -> None:
    from bots.config import Settings
    from bots.gateway.simulator import simulator_settings

    settings = simulator_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert settings.telegram_bot_username == TELEGRAM_BOT_USERNAME
    assert settings.viber_chat_uri == VIBER_CHAT_URI
    assert settings.instagram_username == INSTAGRAM_USERNAME


async def test_each_tab_offers_the_other_messengers_as_its_own_link_buttons(
    simulator: Simulator,
) -> None:
    person = "l" + uuid.uuid4().hex[:12]
    viber = Tab(simulator, "viber", person)
    await viber.say("link my accounts")
    asked = await viber.until(lambda r: bool(r.get("markup")), "with a keyboard")
    # first the phone question (share-phone), then the offer, last: Viber shows only the
    # last message's keyboard, so the offer's link buttons come with the share-phone key
    assert [b["ActionType"] for b in asked["markup"]["Buttons"]] == ["share-phone"]
    offer = await viber.until(lambda r: bool(r.get("markup")), "with link buttons")
    buttons = offer["markup"]["Buttons"]
    # Viber opens any address: both deep links are open-url buttons with the same code
    assert [(b["ActionType"], b["Text"]) for b in buttons] == [
        ("open-url", "Continue in Telegram"),
        ("open-url", "Continue in Instagram"),
        ("share-phone", "📱 Share my phone number"),
    ]
    telegram_url, instagram_url = (b["ActionBody"] for b in buttons[:2])
    code = start_code(telegram_url)
    assert instagram_url == f"https://ig.me/m/{INSTAGRAM_USERNAME}?ref={code}"

    # the Instagram link opened: a referral with the ref links the Instagram chat, and the
    # bot says so there
    instagram = Tab(simulator, "instagram", person)
    await instagram.send(action="open", context=code)
    await instagram.says("accounts are linked")

    async def linked() -> list[dict[str, Any]] | None:
        customers: list[dict[str, Any]] = (await timeline(simulator, person))["customers"]
        seen = {c for entry in customers for c in entry["channels"]}
        return customers if "instagram" in seen else None

    customers = await wait_until(linked, timeout=15, what="the Instagram chat known")
    assert len(customers) == 1, customers  # one profile: the chat joined the Viber customer
    assert set(customers[0]["channels"]) == {"viber", "instagram"}
