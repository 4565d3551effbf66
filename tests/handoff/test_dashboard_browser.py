"""The supervisors' dashboard in a real browser: Debian's Chromium driven by Playwright against
the whole service on a loopback port, after scripted traffic with known answers (REST and
Telegram customers, an agent through the API). A supervisor sees those numbers, a filter and a
date range change them, a new handoff shows up live, and a screenshot is taken; an agent gets no
link and a 403."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.fakes.telegram import FakeTelegram
from tests.handoff.conftest import Api
from tests.handoff.dashboard_traffic import Known, ask_for_a_person, scripted_day
from tests.handoff.test_console_browser import (  # noqa: F401 (the fixture)
    LIVE,
    console_api,
    log_in,
    open_console,
)

PASSWORD = "correct horse battery staple"


def metric(page: Page, name: str, strip: str = "#headline") -> Any:
    return page.locator(f"{strip} [data-metric={name}]")


async def expect_metric(page: Page, name: str, value: str, strip: str = "#headline") -> None:
    await expect(metric(page, name, strip).locator(".value")).to_have_text(value, timeout=LIVE)


async def open_dashboard(page: Page) -> None:
    await expect(page.locator("#dashboard-link")).to_be_visible()
    await page.click("#dashboard-link")
    await expect(page.locator("h1")).to_have_text("Dashboard")
    await expect(page.locator("#live")).to_have_class("live on", timeout=LIVE)


async def check_known_numbers(page: Page, api: Api, known: Known) -> None:
    """The headline cards say what the traffic did, and what the API says for the rest."""
    await expect_metric(page, "conversations", str(known.conversations))
    await expect_metric(page, "containment", known.containment)
    await expect(metric(page, "containment").locator(".sub")).to_have_text(known.contained)
    await expect_metric(page, "handoff", known.handoff)
    await expect(metric(page, "handoff").locator(".sub")).to_have_text(known.handed)
    await expect(metric(page, "frt_wall").locator(".sub")).to_contain_text(
        f"{known.first_responses} answered"
    )
    await expect(metric(page, "resolution").locator(".sub")).to_contain_text(
        f"{known.resolved} resolved"
    )
    await expect_metric(page, "csat", known.csat)
    await expect_metric(page, "csat_rate", known.csat_rate)
    # the previous week was empty: counts went up from nothing, rates have nothing to compare
    await expect(metric(page, "conversations").locator(".trend")).to_contain_text(
        f"+{known.conversations}"
    )
    doc = await api.ok("GET", "/api/metrics/summary")
    shown = {
        "frt_wall": doc["first_response"]["wall"]["p50"],
        "frt_business": doc["first_response"]["business"]["p50"],
        "resolution": doc["resolution"]["wall"]["p50"],
        "fcr": doc["fcr"]["rate"],
        "fallback": doc["fallback"]["rate"],
    }
    for name, value in shown.items():
        raw = await metric(page, name).locator(".value").get_attribute("data-value")
        assert (float(raw) if raw else None) == value, (name, raw, value)


async def check_charts(page: Page, known: Known) -> None:
    """Each chart is an SVG drawn from the numbers, with its data table a keyboard opens."""
    rates = page.locator("#c-rates svg[role=img]")
    await expect(rates.locator("path.series")).to_have_count(2)
    await expect(page.locator("#c-csat rect.bar[data-label='4']")).to_have_count(1)
    await expect(page.locator("#c-channels rect.bar")).to_have_count(2)  # rest, telegram
    await expect(page.locator("#c-response rect.bar")).not_to_have_count(0)
    await expect(page.locator("#c-intents rect.bar")).not_to_have_count(0)
    summary = page.locator("#c-channels summary")
    await summary.focus()
    await page.keyboard.press("Enter")
    table = page.locator("#c-channels table")
    await expect(table).to_be_visible()
    await expect(table.locator("tr", has_text="telegram")).to_contain_text(
        str(known.telegram_conversations)
    )


async def check_filters_and_range(page: Page, known: Known, today: str) -> None:
    await page.select_option("#f-channel", "telegram")
    await expect_metric(page, "conversations", str(known.telegram_conversations))
    await expect_metric(page, "containment", known.telegram_containment)
    await expect_metric(page, "handoff", known.telegram_handoff)
    # the CSV buttons export what is shown: the same period and filters
    href = await page.locator("#csv-conversations").evaluate("a => a.href")
    assert "kind=conversations" in href and "channel=telegram" in href, href
    csv = await page.request.get(href)
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    rows = (await csv.text()).strip().splitlines()
    assert len(rows) == 1 + known.telegram_conversations, rows  # a header, a row each
    await page.select_option("#f-channel", "")
    await expect_metric(page, "conversations", str(known.conversations))

    yesterday = (dt.date.fromisoformat(today) - dt.timedelta(days=1)).isoformat()
    await page.fill("#f-from", yesterday)
    await page.fill("#f-to", yesterday)
    await expect_metric(page, "conversations", "0")
    await expect(page.locator("#c-csat .empty")).to_be_visible()
    await page.click(".presets button[data-days='7']")
    await expect_metric(page, "conversations", str(known.conversations))


@pytest.mark.browser
async def test_supervisor_sees_the_numbers_of_scripted_traffic(
    console_api: Api,  # noqa: F811
    fake_telegram: FakeTelegram,
    browser: Browser,
    tmp_path: Path,
) -> None:
    api = console_api
    await api.add_agent("sofia", ["general"], role="supervisor", password=PASSWORD, online=False)
    _, anna = await api.add_agent("anna", ["general", "orders"], ["en"], password=PASSWORD)
    known = await scripted_day(api, fake_telegram, anna)
    today = (await api.ok("GET", "/api/metrics/summary"))["range"]["to"]
    base = str(api.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    try:
        await log_in(page, base, "sofia", PASSWORD)
        await open_dashboard(page)
        await check_known_numbers(page, api, known)
        await expect_metric(page, "conversations", str(known.conversations), "#today")
        await check_charts(page, known)
        await check_filters_and_range(page, known, today)

        # live: one more customer asks for a person while the page is open; today's numbers
        # move without a reload (the ticket's event over /api/events, then one refetch)
        await page.evaluate("window.__noReload = true")
        await ask_for_a_person(api, fake_telegram)
        await expect_metric(page, "conversations", str(known.conversations + 1), "#today")
        await expect(metric(page, "handoff", "#today").locator(".sub")).to_have_text(
            "4 handed to a person", timeout=LIVE
        )
        assert await page.evaluate("window.__noReload === true")

        shot = tmp_path / "dashboard.png"
        await page.screenshot(path=str(shot), full_page=True)
        print(f"dashboard screenshot: {shot}")
        assert shot.stat().st_size > 10_000

        # a phone's width: one column, nothing wider than the screen, in Ukrainian
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.select_option("#ui-lang", "uk")
        await expect(page.locator("h1")).to_have_text("Панель показників")
        await expect(metric(page, "handoff").locator("h3")).to_have_text("Передано людині")
        await expect(page.locator("html")).to_have_attribute("lang", "uk")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        phone = tmp_path / "dashboard-phone-uk.png"
        await page.screenshot(path=str(phone), full_page=True)
        print(f"dashboard screenshot (phone, Ukrainian): {phone}")

        # nothing came from outside the service
        assert all(u.startswith(base) or u.startswith("data:") for u in requested), requested
        assert errors.errors == []
    finally:
        await context.close()


@pytest.mark.browser
async def test_an_agent_gets_no_dashboard(console_api: Api, browser: Browser) -> None:  # noqa: F811
    api = console_api
    await api.add_agent("anna", ["general"], ["en"], password=PASSWORD, online=False)
    base = str(api.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    try:
        await log_in(page, base, "anna", PASSWORD)
        await expect(page.locator("#dashboard-link")).to_be_hidden()
        answer = await page.goto(f"{base}/console/dashboard")
        assert answer is not None and answer.status == 403
        await expect(page.locator("h1")).to_have_text("The dashboard is for supervisors")
        metrics = await page.request.get(f"{base}/api/metrics/summary")
        assert metrics.status == 403
    finally:
        await context.close()
    assert [e for e in errors.errors if "403" not in e] == []
