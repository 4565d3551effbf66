"""The console's timeline in a real browser shows a tapped button by its title and a shared
contact as "shared phone +380…" (issue 17: they were blank bubbles), live and after a reload."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import callback_update
from tests.handoff.conftest import Api
from tests.handoff.test_console_browser import (  # noqa: F401 (the fixture)
    LIVE,
    PASSWORD,
    console_api,
    log_in,
    open_console,
)
from tests.handoff.test_console_lines import SERVICE, keyboard, reply, telegram_customer


@pytest.mark.browser
async def test_taps_and_contacts_in_the_console(
    console_api: Api,  # noqa: F811 (the imported fixture, requested)
    fake_telegram: FakeTelegram,
    browser: Browser,
) -> None:
    api, fake = console_api, fake_telegram
    await api.add_agent(
        "anna", ["general", "bookings"], ["en", "uk"], password=PASSWORD, online=False
    )
    chat, title = await telegram_customer(api, fake)
    base = str(api.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    try:
        await log_in(page, base, "anna", PASSWORD)
        await page.locator("#tickets li").first.click()
        timeline = page.locator("#timeline")
        customer = timeline.locator(".msg.from-customer .text")
        await expect(customer).to_have_text(
            [
                "I'd like to book an appointment",
                f"▸ {title}",
                "shared phone +380671112233 (verified by Telegram)",
                "i want to talk to a human",
            ],
            timeout=LIVE,
        )
        await expect(timeline.locator('.text[data-kind="button"]')).to_have_count(1)
        await expect(timeline).not_to_contain_text("/inform")

        # a tap while the ticket is open arrives live, by its title, shown once
        await page.click("#claim")
        await expect(page.locator("#ticket-status")).to_have_text("assigned")
        services = await reply(fake, chat, 1)
        tap = callback_update(chat, SERVICE, keyboard=keyboard(services))
        await api.telegram(tap)
        await expect(customer).to_have_count(5, timeout=LIVE)
        await expect(customer.last).to_have_text(f"▸ {title}")
        await page.reload()
        await page.click("#tabs button[data-status=assigned]")
        await page.locator("#tickets li").first.click()
        await expect(customer).to_have_count(5, timeout=LIVE)
        await expect(customer.last).to_have_text(f"▸ {title}")
        assert errors.errors == []
    finally:
        await context.close()
