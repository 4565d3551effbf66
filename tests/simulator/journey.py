"""One person's journey through the simulator over HTTP (no browser): a booking started on the
Instagram tab, "Continue in Telegram" tapped, the booking finished on the Telegram tab."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bots.demo import CLINIC_TZ
from tests.simulator.conftest import Simulator

Reply = dict[str, Any]
POLLS = 30  # long polls of up to a second each, per awaited reply


@dataclass
class Tab:
    """One messenger tab of the simulated person: what it sends, what the sandbox recorded."""

    sim: Simulator
    channel: str
    person: str
    seen: list[Reply] = field(default_factory=list)
    cursor: int = 0

    async def send(self, **body: Any) -> None:
        answer = await self.sim.send(self.channel, self.person, **body)
        assert answer["webhook_status"] == 200, answer

    async def say(self, text: str) -> None:
        await self.send(text=text)

    async def until(self, check: Callable[[Reply], bool], what: str) -> Reply:
        """The first new reply that passes `check`; the replies before it are kept as seen."""
        for _ in range(POLLS):
            params = {
                "person": self.person,
                "language": "en",
                "after": str(self.cursor),
                "wait": "1",
            }
            url = f"{self.sim.base_url}/simulator/{self.channel}/updates"
            async with self.sim.http.get(url, params=params) as r:
                assert r.status == 200
                doc = await r.json()
            replies: list[Reply] = doc["replies"]
            for reply in replies:
                self.cursor = reply["seq"]
                self.seen.append(reply)
                if check(reply):
                    return reply
        texts = [r["text"] for r in self.seen]
        raise AssertionError(f"{self.channel}: no reply {what}; the bot said {texts}")

    async def says(self, *needles: str) -> Reply:
        def check(reply: Reply) -> bool:
            return any(n.lower() in (reply["text"] or "").lower() for n in needles)

        return await self.until(check, f"saying one of {needles}")


def _asks(reply: Reply) -> bool:
    """A question of the booking: buttons or a keyboard to answer with, or the name (not a
    message whose markup only takes Telegram's share keyboard away: T3, 60b1168)."""
    markup = reply.get("markup")
    asks = bool(markup) and markup != {"remove_keyboard": True}
    return asks or "what name" in (reply["text"] or "").lower()


def telegram_buttons(reply: Reply) -> list[dict[str, Any]]:
    markup = reply.get("markup") or {}
    return [b for row in markup.get("inline_keyboard") or () for b in row]


def template_links(reply: Reply) -> dict[str, str]:
    """Title -> url of the `web_url` buttons of an Instagram button template."""
    markup = reply.get("markup")
    if not isinstance(markup, dict) or markup.get("template_type") != "button":
        return {}
    return {b["title"]: b["url"] for b in markup["buttons"] if b["type"] == "web_url"}


def start_code(url: str) -> str:
    """The one-time code of a `https://t.me/<bot>?start=CODE` deep link."""
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "t.me", url
    return parse_qs(parts.query)["start"][0]


def open_day() -> str:
    """A weekday name two or three days ahead on which the demo clinic is open (never a
    Sunday), so that the journey does not depend on the day the test runs."""
    day = dt.datetime.now(CLINIC_TZ).date() + dt.timedelta(days=2)
    if day.weekday() == 6:
        day += dt.timedelta(days=1)
    return day.strftime("%A")


async def start_on_instagram(instagram: Tab, day: str) -> str:
    """Service and date on Instagram, then "continue in Telegram": the deep link's code."""
    await instagram.say("I'd like to book a teeth cleaning")
    await instagram.says("when would you like")
    await instagram.say(f"on {day}")
    asked = await instagram.says(f"what time on {day}")
    assert asked["markup"], "free times are offered as quick replies"
    await instagram.say("I want to continue in Telegram, link my accounts")
    offer = await instagram.until(lambda r: bool(template_links(r)), "with link buttons")
    links = template_links(offer)
    assert list(links) == ["Continue in Telegram"], links
    return start_code(links["Continue in Telegram"])


async def finish_on_telegram(telegram: Tab, code: str, day: str) -> str:
    """Open the deep link (`/start CODE`), pick a time, give what is missing, confirm; the
    booking reference. The service and the date are not asked for again."""
    await telegram.send(action="open", context=code)
    await telegram.says("accounts are linked")
    question = await telegram.until(lambda r: bool(telegram_buttons(r)), "offering times")
    assert f"what time on {day}".lower() in question["text"].lower(), question["text"]
    for _ in range(4):
        buttons = telegram_buttons(question)
        if any(b.get("callback_data") == "/affirm" for b in buttons):
            break
        text = question["text"].lower()
        assert "service" not in text and "when would you like" not in text, text
        if (question.get("markup") or {}).get("keyboard"):  # the phone request
            await telegram.send(action="contact")
        elif "name" in text:
            await telegram.say("Olena Petrenko")
        else:
            first = buttons[0]
            message_id = question["extra"]["message_id"]
            await telegram.send(
                action="button", payload=first["callback_data"], message_id=message_id
            )
        question = await telegram.until(_asks, "asking for the next detail")
    summary = question
    # the details may come in the message before the question (Telegram, after a phone request)
    shown = " ".join(r["text"] or "" for r in telegram.seen[-2:]).lower()
    assert "teeth cleaning" in shown, shown
    await telegram.send(
        action="button", payload="/affirm", message_id=summary["extra"]["message_id"]
    )
    done = await telegram.says("BK-")
    found = re.search(r"BK-[A-Z0-9]{6}", done["text"])
    assert found, done["text"]
    return found.group(0)
