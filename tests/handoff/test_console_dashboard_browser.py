"""The dashboard's presentation after the newcomer trial (issue 17), in a real browser over the
real summary API, with analytics events recorded as the writers record them: a rate is worked
out from its counts (6 of 11 read 54.6%, the API's rounded 0.5455 rounded again), and the
intents chart names what customers asked for in words, leaving out the replies inside a
conversation ("inform", "affirm", "csat_score" topped it)."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.async_api import Browser, expect

from storage.analytics.events import Event, record_async
from storage.db import Database
from tests.handoff.conftest import Api
from tests.handoff.test_console_browser import (  # noqa: F401 (the fixture)
    LIVE,
    PASSWORD,
    console_api,
)
from tests.handoff.test_console_trial_browser import logged_in
from tests.handoff.test_dashboard_browser import expect_metric, metric, open_dashboard

# intent of each customer message: a few requests among many replies to the bot's questions
MESSAGES = {
    "inform": 7,
    "affirm": 2,
    "book_appointment": 3,
    "csat_score": 1,
    "check_order_status": 2,
}


def _event(now: dt.datetime, kind: str, key: str, intent: str, reason: str | None) -> Event:
    return Event(
        kind=kind, key=key, at=now, channel="rest", language="uk", intent=intent, reason=reason
    )


def _events(now: dt.datetime) -> list[Event]:
    events = [_event(now, "task.started", f"t{i}:booking", "booking", None) for i in range(11)]
    events += [_event(now, "task.ended", f"t{i}:booking", "booking", "completed") for i in range(6)]
    said = [intent for intent, count in MESSAGES.items() for _ in range(count)]
    events += [_event(now, "message.in", f"rest:m{n}", i, "bot") for n, i in enumerate(said)]
    return events


async def _record(api: Api) -> None:
    db = Database(api.settings.database_url)
    try:
        async with db.transaction() as s:
            await record_async(s, _events(dt.datetime.now(dt.UTC)))
    finally:
        await db.dispose()


@pytest.mark.browser
async def test_rates_from_counts_and_intents_in_words(
    console_api: Api,  # noqa: F811 (the imported fixture, requested)
    browser: Browser,
) -> None:
    api = console_api
    await api.add_agent("boss", ["general"], role="admin", password=PASSWORD, online=False)
    await _record(api)
    doc = await api.ok("GET", "/api/metrics/summary")
    assert (doc["containment"]["contained"], doc["containment"]["tasks_started"]) == (6, 11)
    async with logged_in(api, browser, "boss") as page:
        await open_dashboard(page)
        await expect_metric(page, "containment", "54.5%")  # 6/11 = 54.545…%
        await expect(metric(page, "containment").locator(".sub")).to_contain_text("6 of 11")

        rows = page.locator("#c-intents table tbody th")
        await expect(rows).to_have_text(["Book a visit", "Order status"], timeout=LIVE)
        await expect(page.locator("#c-intents")).to_contain_text("are left out")
        await page.select_option("#ui-lang", "uk")
        await expect(rows).to_have_text(["Запис на прийом", "Статус замовлення"])
