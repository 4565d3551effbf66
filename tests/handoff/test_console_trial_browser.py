"""The console's ticket view in a real browser after the newcomer trial (issue 17, second
wave): an unassigned ticket's header has no literal "null", the bot context words the wait
choice for people ("customer_chose: message" was a raw key), and the presence button says what
pressing it does (it read "away", like a status)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

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


@pytest.fixture
async def away_agent(console_api: Api) -> Api:  # noqa: F811 (the imported fixture, requested)
    """The service with one agent, "anna", of the general queue, away: nobody online."""
    await console_api.add_agent("anna", ["general"], ["en", "uk"], password=PASSWORD, online=False)
    return console_api


@contextlib.asynccontextmanager
async def logged_in(api: Api, browser: Browser, name: str) -> AsyncIterator[Page]:
    """The console in a fresh browser profile, logged in as ``name``; no page errors."""
    base = str(api.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    try:
        await log_in(page, base, name, PASSWORD)
        yield page
        assert errors.errors == []
    finally:
        await context.close()


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
    async with logged_in(api, browser, "anna") as page:
        await page.locator("#tickets li").first.click()
        meta = page.locator("#ticket-meta")
        await expect(meta).to_contain_text("queued", timeout=LIVE)
        await expect(meta).not_to_contain_text("null")
        await expect(meta).not_to_contain_text("false")
        await expect(meta).to_contain_text("Customer asked for a person")


@pytest.mark.browser
async def test_the_bot_context_and_the_presence_button_in_words(
    away_agent: Api, browser: Browser
) -> None:
    api = away_agent
    # nobody online: the customer chooses to leave a message, which the ticket records
    await api.rest("leaves-a-message", "I want to talk to a person", language="en")
    await api.rest("leaves-a-message", payload="/handoff_message")
    async with logged_in(api, browser, "anna") as page:
        await expect(page.locator("#my-status")).to_have_text("away")
        toggle = page.locator("#status-toggle")
        await expect(toggle).to_have_text("Go online")
        await page.locator("#tickets li").first.click()
        fields = page.locator("#context-fields")
        chose = fields.locator("dt", has_text="Customer chose")
        await expect(chose).to_have_count(1, timeout=LIVE)
        await expect(chose.locator("xpath=following-sibling::dd[1]")).to_have_text(
            "to leave a message"
        )
        await expect(fields).not_to_contain_text("customer_chose")

        await toggle.click()
        await expect(page.locator("#my-status")).to_have_text("online")
        await expect(toggle).to_have_text("Go away")
        await page.reload()  # the server keeps it
        await expect(page.locator("#my-status")).to_have_text("online", timeout=LIVE)


@pytest.mark.browser
async def test_the_wait_choice_and_a_message_left_arrive_live(
    away_agent: Api, browser: Browser
) -> None:
    api = away_agent
    await api.rest("live-choice", "I want to talk to a person", language="en")
    async with logged_in(api, browser, "anna") as page:
        await page.locator("#tickets li").first.click()
        fields = page.locator("#context-fields")
        await expect(page.locator("#ticket-status")).to_have_text("queued", timeout=LIVE)
        await api.rest("live-choice", payload="/handoff_message")
        await expect(fields).to_contain_text("to leave a message", timeout=LIVE)
        await api.rest("live-choice", "Please call me about the invoice")
        left = fields.locator("dt", has_text="Message left")
        await expect(left.locator("xpath=following-sibling::dd[1]")).to_have_text(
            "Please call me about the invoice", timeout=LIVE
        )
