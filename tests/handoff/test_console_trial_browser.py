"""The console's ticket view in a real browser after the newcomer trial (issue 17, second
wave): an unassigned ticket's header has no literal "null", the bot context words the wait
choice for people, and the presence button says what pressing it does."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.fakes.telegram import FakeTelegram
from tests.handoff.conftest import Api
from tests.handoff.test_console_browser import (  # noqa: F401 (the fixture)
    LIVE,
    PASSWORD,
    console_api,
    log_in,
    open_console,
)
from tests.handoff.test_console_lines import telegram_customer


@pytest.mark.browser
async def test_an_unassigned_ticket_header_shows_no_null(
    console_api: Api,  # noqa: F811 (the imported fixture, requested)
    fake_telegram: FakeTelegram,
    browser: Browser,
) -> None:
    api = console_api
    await api.add_agent(
        "anna", ["general", "bookings"], ["en", "uk"], password=PASSWORD, online=False
    )
    await telegram_customer(api, fake_telegram)  # nobody online: queued, nobody assigned
    base = str(api.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    try:
        await log_in(page, base, "anna", PASSWORD)
        await page.locator("#tickets li").first.click()
        meta = page.locator("#ticket-meta")
        await expect(meta).to_contain_text("queued", timeout=LIVE)
        await expect(meta).not_to_contain_text("null")
        await expect(meta).not_to_contain_text("false")
        await expect(meta).to_contain_text("Customer asked for a person")
        assert errors.errors == []
    finally:
        await context.close()
