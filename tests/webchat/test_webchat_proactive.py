"""Proactive messages on the web chat: a business event about a signed-in visitor is pushed live
to their page (both backends), and a visitor silent for a day is reached on another channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bots.channels.webchat_auth import identity_hash
from bots.config import Settings
from bots.proactive.reach import choose_channel
from tests.webchat.conftest import IDENTITY_SECRET, running, seeded, webchat_values

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Kyiv: no quiet hours


@dataclass
class Identity:
    channel: str
    external_id: str
    reachable: bool
    last_inbound_at: datetime | None


def test_a_visitor_silent_for_a_day_is_reached_elsewhere() -> None:
    web = Identity("webchat", "u:cust-7", True, NOW - timedelta(hours=2))
    telegram = Identity("telegram", "42", True, NOW - timedelta(days=3))
    running_channels = {"webchat", "telegram"}
    chosen = choose_channel(
        [web, telegram], last_channel="webchat", running=running_channels, now=NOW
    )
    assert chosen.channel == "webchat"
    web.last_inbound_at = NOW - timedelta(days=2)
    later = choose_channel(
        [web, telegram], last_channel="webchat", running=running_channels, now=NOW
    )
    assert later.channel == "telegram"
    assert later.passed_over and later.passed_over[0].startswith("webchat: ")


async def test_a_business_event_is_pushed_live_to_the_visitors_page(
    make_settings: Callable[..., Settings],
) -> None:
    settings = await seeded(make_settings(**webchat_values(clock_start=NOW)))
    async with running(settings) as service:
        visitor = service.visitor()
        await visitor.start(user_id="cust-7", user_hash=identity_hash(IDENTITY_SECRET, "cust-7"))
        stream = await visitor.stream()
        await visitor.say("hello")
        await stream.wait_for(lambda ev: any(e["kind"] == "message" for e in ev))
        event = {
            "id": "ship-web-1",
            "type": "order_shipped",
            "customer": {"channel": "webchat", "user_id": "u:cust-7"},
            "variables": {"order": "A1001", "tracking": "59001234"},
        }
        answer = await service.api("POST", "/api/events", body=event)
        assert [j["scenario"] for j in answer["jobs"]] == ["order_shipped"]
        await stream.wait_for(lambda ev: any("has been shipped" in t for t in stream.texts()))
        [shipped] = [t for t in stream.texts() if "has been shipped" in t]
        assert "A1001" in shipped and "59001234" in shipped
        await stream.close()
