"""The dashboard in a real browser on the analytics suite's week with known answers (its helpers
in `tests.analytics.test_traffic`): the bot's clock pinned to Tuesday 10 March 2026 in Kyiv,
business hours mon-fri 09:00-18:00 with Wednesday a holiday; ten conversations, three handed to
a person after hours, answered on Thursday and Friday after 540 and 1080 business minutes, one
closed and rated 4. The supervisor sees exactly those waits, and "today" is the bot's Friday, not
the browser's date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.analytics.test_traffic import (
    Desk,
    check_numbers,
    say,
    shop_settings,
    supervisor,
)
from tests.handoff.test_console_browser import LIVE, log_in, open_console
from tests.proactive.e2e import ADMIN, Shop, fakes, mode, pg_e2e_url, shop

__all__ = ["fakes", "mode", "pg_e2e_url", "shop", "shop_settings"]  # fixtures of the test below

PASSWORD = "correct horse battery staple"


async def known_week(shop: Shop, desk: Desk) -> None:
    """The analytics suite's script, from Tuesday 09:00 to Friday 18:20."""
    people = [shop.person(ch) for ch in ["telegram"] * 4 + ["viber"] * 2 + ["rest"]]
    handed = [shop.person(ch) for ch in ("telegram", "viber", "rest")]
    for who in people:
        await say(shop, who, "what are your opening hours?")
    await say(shop, handed[1], "hello")  # 09:00: bot time, not part of the agent's wait
    shop.advance(dt.timedelta(hours=9, minutes=30))  # Tuesday 18:30, after hours
    for who in handed:
        await say(shop, who, "I want to talk to a person")
    first, second, _ = [await desk.ticket_of(await shop.customer_id(w)) for w in handed]
    shop.advance(dt.timedelta(hours=48))  # Thursday 18:30 (Wednesday is a holiday)
    await desk.answer(first, "Hello, how can I help?")
    shop.advance(dt.timedelta(hours=23, minutes=50))  # Friday 18:20
    await desk.answer(second, "Hello, sorry for the wait")
    seen = shop.count(handed[0])
    await desk.call("POST", f"/api/tickets/{first}/close", {"resolution": "answered"})
    await shop.next_message(handed[0], "How would you rate", seen)
    await say(shop, handed[0], "4")


async def value(page: Page, metric: str, strip: str = "#headline") -> str | None:
    return await page.locator(f"{strip} [data-metric={metric}] .value").get_attribute("data-value")


@pytest.mark.browser
async def test_the_dashboard_shows_the_known_waits_in_business_hours(
    shop: Shop, browser: Browser, tmp_path: Path
) -> None:
    desk = await supervisor(shop)
    await known_week(shop, desk)
    check_numbers(await desk.summary())  # the API's answers first: the page must show them
    body = {"name": "Olha", "role": "supervisor", "skills": ["*"], "password": PASSWORD}
    resp = await shop.client.post(
        "/api/agents", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert resp.status == 201, await resp.text()

    base = str(shop.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    try:
        await log_in(page, base, "Olha", PASSWORD)
        await page.goto(f"{base}/console/dashboard?lang=en")
        await expect(page.locator("#live")).to_have_class("live on", timeout=LIVE)
        # the default period is the bot's last seven days, up to its Friday
        await expect(page.locator("#f-to")).to_have_value("2026-03-13")
        await expect(page.locator("#f-from")).to_have_value("2026-03-07")
        await expect(page.locator("#today-date")).to_have_text("13 Mar")

        headline = page.locator("#headline")
        await expect(headline.locator("[data-metric=conversations] .value")).to_have_text("10")
        await expect(headline.locator("[data-metric=containment] .value")).to_have_text("70%")
        await expect(headline.locator("[data-metric=handoff] .value")).to_have_text("30%")
        business = headline.locator("[data-metric=frt_business]")
        await expect(business.locator(".value")).to_have_text("9 h")  # 540 business minutes
        await expect(business.locator(".sub")).to_have_text("2 answered, p90 18 h")
        assert float(await value(page, "frt_business") or 0) == 540 * 60.0
        resolution = headline.locator("[data-metric=resolution] .sub")
        await expect(resolution).to_contain_text("1 resolved, business hours 18 h")
        # wall clock from the handoff (Tuesday 18:30), not from the greeting: about two days
        wall = float(await value(page, "frt_wall") or 0)
        assert abs(wall - 48 * 3600) <= 120, wall
        await expect(headline.locator("[data-metric=csat] .value")).to_have_text("4.0")
        await expect(headline.locator("[data-metric=fcr] .value")).to_have_text("100%")

        # today (Friday) started no conversation; its one CSAT answer is today's
        await expect(page.locator("#today [data-metric=conversations] .value")).to_have_text("0")
        await expect(page.locator("#today [data-metric=csat] .value")).to_have_text("4.0")

        # both waits are over a day on the clock: the last bucket of the distribution
        await page.locator("#c-response summary").click()
        over = page.locator("#c-response tr", has_text="> 24 h")
        await expect(over).to_contain_text("2")
        telegram = page.locator("#c-channels tr", has_text="telegram")
        await expect(telegram).to_be_hidden()  # the table is folded until asked for
        await page.locator("#c-channels summary").click()
        await expect(telegram).to_contain_text("5")

        shot = tmp_path / "dashboard-known-week.png"
        await page.screenshot(path=str(shot), full_page=True)
        print(f"dashboard screenshot: {shot}")
        assert errors.errors == []
    finally:
        await context.close()
