"""The web chat's "continue in Telegram" link with its QR code, and its abuse limits (per client
IP address, and per visitor as for every sender), on both backends."""

from __future__ import annotations

import base64
from collections.abc import Callable

from bots.config import Settings
from bots.gateway.limits import NOTICE
from tests.webchat.conftest import KEY, running, seeded, webchat_values


async def test_continue_in_telegram_comes_with_a_deep_link_and_a_qr_code(
    make_settings: Callable[..., Settings],
) -> None:
    settings = await seeded(
        make_settings(**webchat_values(telegram_bot_username="omnirelay_demo_bot"))
    )
    async with running(settings) as service:
        visitor = service.visitor()
        session = await visitor.start()
        assert (await session.json())["continue_in"] == ["telegram"]
        stream = await visitor.stream()
        await visitor.say(payload="/link_account", title="Continue in a messenger")
        events = await stream.wait_for(
            lambda ev: any(b.get("url") for e in ev for b in e["data"].get("buttons", ()))
        )
        assert events[0]["data"]["text"] == "Continue in a messenger"  # the title, not /payload
        [link] = [b for e in events for b in e["data"].get("buttons", ()) if b.get("url")]
        assert link["url"].startswith("https://t.me/omnirelay_demo_bot?start=")
        prefix = "data:image/svg+xml;base64,"
        assert link["qr"].startswith(prefix)
        svg = base64.b64decode(link["qr"].removeprefix(prefix)).decode()
        assert svg.startswith("<svg") and "<path" in svg and "script" not in svg
        asked = [e for e in events if e["data"].get("phone")]
        assert asked, "linking asks for the phone: the widget draws a phone field"
        await stream.close()


async def test_one_address_is_limited_and_a_flooding_visitor_is_told_once(
    make_settings: Callable[..., Settings],
) -> None:
    values = webchat_values(
        rest_rate_burst=3,
        rest_rate_per_minute=0.001,  # no refill while the test runs
        trusted_proxies=["127.0.0.1"],
        inbound_rate_burst=2,
        inbound_rate_per_minute=0.001,
    )
    settings = await seeded(make_settings(**values))
    async with running(settings) as service:
        visitor = service.visitor()
        forwarded = {"X-Forwarded-For": "203.0.113.9"}
        assert (await visitor.post("/webchat/session", {"key": KEY}, **forwarded)).status == 200
        stream = await visitor.stream()
        statuses = [
            (
                await visitor.post(
                    "/webchat/messages", {"key": KEY, "id": f"m{i}", "text": "hi"}, **forwarded
                )
            ).status
            for i in range(4)
        ]
        assert statuses == [202, 202, 429, 429]  # the address's burst: 3 requests

        answers = [  # from this host: the visitor's own limit (2 at once)
            await visitor.say("hello again", id=f"n{i}") for i in range(3)
        ]
        assert [a["status"] for a in answers] == ["limited"] * 3
        notices = [NOTICE["en"], NOTICE["uk"]]
        await stream.wait_for(lambda ev: any(e["data"].get("text") in notices for e in ev))
        assert sum(t in notices for t in stream.texts()) == 1
        # the page shows the dropped ones as not sent (on a reload too)
        events = await stream.wait_for(lambda ev: sum(e["kind"] == "not_sent" for e in ev) == 3)
        assert {e["data"]["mid"] for e in events if e["kind"] == "not_sent"} == {"n0", "n1", "n2"}
        await stream.close()
