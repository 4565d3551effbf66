"""Trial finding 5 on the web chat itself: a phone typed there never proves an order is the
visitor's, so the order status offers no phone field; it offers "link my account" (a chip whose
tap starts the linking), in Ukrainian and English, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.webchat.conftest import Service, seeded, webchat, webchat_values  # noqa: F401

ASKED = {"uk": "де моє замовлення A1003?", "en": "where is my order A1003?"}
ADVICE = {
    "uk": ("написаний у цьому чаті, цього не підтверджує", "Прив'язати акаунт", "кнопка нижче"),
    "en": ("typed in this chat doesn't prove that", "Link my account", "the button below"),
}
LINKING = {"uk": "з яким ви вже зверталися до нас", "en": "phone number you used with us before"}


def _messages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e.get("kind") == "message"]


@pytest.mark.parametrize("language", ["uk", "en"])
async def test_the_web_chat_points_to_linking_not_to_a_phone_field(
    webchat: Service,  # noqa: F811 (the fixture imported above)
    language: str,
) -> None:
    advice, button, dead_end = ADVICE[language]
    visitor = webchat.visitor()
    await visitor.start()
    stream = await visitor.stream()
    await visitor.say(ASKED[language])
    events = await stream.wait_for(lambda ev: any("A1003" in m["text"] for m in _messages(ev)))
    answer = next(m for m in _messages(events) if "A1003" in m["text"])
    assert advice in answer["text"] and dead_end not in answer["text"]
    assert "phone" not in answer  # no phone field
    assert [b["title"] for b in answer["buttons"]] == [button]
    seen = len(_messages(events))
    await visitor.say(payload=answer["buttons"][0]["payload"], title=button)
    linking = LINKING[language]  # the linking flow: its code goes to the customer's messenger
    await stream.wait_for(lambda ev: any(linking in m["text"] for m in _messages(ev)[seen:]))
    await stream.close()
