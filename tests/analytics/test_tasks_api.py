"""Tasks through the REST channel on both backends: each ends once, as completed, abandoned or
handed off (so the rates add up to at most 1); a customer back on a resolved ticket's topic in a
later conversation costs it its first-contact resolution. Replies given up on are counted by
channel and cause. And who may read the metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from bots.keys import CLOCK
from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.handoff.conftest import ADMIN, Api

KYIV = ZoneInfo("Europe/Kyiv")


def days(api: Api) -> str:
    """From two days ago to the day after tomorrow on the bot's clock, in the business's zone:
    a test that advances the clock by 25 hours after 23:00 local lands two dates later (from
    "yesterday" the range lost the first day's resolution between 21:00 and 22:00 UTC)."""
    today = api.client.app[CLOCK]().astimezone(KYIV).date()
    first, last = today - dt.timedelta(days=2), today + dt.timedelta(days=2)
    return f"from={first.isoformat()}&to={last.isoformat()}"


async def metrics(api: Api, token: str = ADMIN, extra: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = await api.ok("GET", f"/api/metrics/summary?{days(api)}{extra}", token)
    return doc


async def test_each_task_ends_once_and_the_rates_add_up(api: Api) -> None:
    await api.rest("quitter", "I'd like to book a teeth cleaning")
    await api.rest("quitter", "stop")
    await api.rest("asker", "I'd like to book a teeth cleaning")
    await api.rest("asker", "I want to talk to a person")
    await api.rest("shopper", "where is my order A1001?")
    await api.rest("chatter", "hello")  # small talk: no task
    doc = await metrics(api)
    assert doc["containment"] == {
        "rate": 0.3333,
        "contained": 1,
        "tasks_started": 3,
        "abandoned": 1,
        "open": 0,
    }
    assert doc["handoff"] == {"rate": 0.3333, "count": 1, "by_reason": {"request": 1}}
    assert doc["tickets"]["by_reason"] == {"request": 1}
    by_team = await metrics(api, extra="&team=bookings")
    assert by_team["containment"]["tasks_started"] == 2
    assert by_team["tickets"]["created"] == 1

    # the agent resolves it; a day later the customer is back about the same thing
    (ticket,) = await api.tickets()
    await api.ok("POST", f"/api/tickets/{ticket['id']}/close", ADMIN, {"resolution": "booked"})
    api.client.app[CLOCK].advance(dt.timedelta(hours=25))
    await api.rest("asker", "I want to talk to a person")
    doc = await metrics(api)
    assert doc["fcr"] == {"rate": 0.0, "resolved": 1, "came_back": 1, "days": 7}
    assert doc["conversations"]["started"] == 5
    assert doc["handoff"]["count"] == 2 and doc["containment"]["tasks_started"] == 4


async def test_only_supervisors_read_the_metrics(api: Api) -> None:
    _, agent = await api.add_agent("Petro", ["orders"])
    _, boss = await api.add_agent("Oksana", ["*"], role="supervisor")
    assert (await api.call("GET", "/api/metrics/summary", None))[0] == 401
    assert (await api.call("GET", "/api/metrics/summary", agent))[0] == 403
    assert (await api.call("GET", "/api/metrics/export.csv", agent))[0] == 403
    assert (await api.call("GET", "/api/metrics/summary", boss))[0] == 200
    for bad in ("from=yesterday", "from=2026-03-10&to=2026-03-01", "agent=x", "kind=people"):
        path = "/api/metrics/export.csv" if bad.startswith("kind") else "/api/metrics/summary"
        status, doc = await api.call("GET", f"{path}?{bad}", boss)
        assert status == 400 and doc["error"], (bad, status, doc)
    resp = await api.client.get(
        f"/api/metrics/export.csv?kind=tickets&{days(api)}",
        headers={"Authorization": f"Bearer {boss}"},
    )
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    header = (await resp.text()).splitlines()[0]
    assert header.startswith("ticket,created_at,channel,")


async def test_replies_given_up_are_counted_by_channel_and_cause(
    api: Api, fake_telegram: FakeTelegram
) -> None:
    for status, cause in ((403, "unreachable"), (400, "rejected")):
        fake_telegram.fail_next("sendMessage", status=status)
        await api.telegram(text_update(new_chat_id(), "hello", update_id=new_update_id()))

        async def counted(cause: str = cause) -> bool:
            failures = (await metrics(api))["delivery_failures"]
            return cause in failures.get("telegram", {})

        await wait_until(counted, timeout=30, what=f"a {cause} delivery counted")
    failures = (await metrics(api))["delivery_failures"]
    assert failures == {"telegram": {"rejected": 1, "unreachable": 1}}
