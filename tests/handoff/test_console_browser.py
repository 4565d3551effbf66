"""The agent console in a real browser: Debian's Chromium driven by Playwright against the
running service on a loopback port, a Telegram customer on the other side (real webhook in,
real aiogram client out to the fake Bot API).

Chromium is never downloaded: the shared `browser` fixture (tests/conftest.py) starts
`/usr/bin/chromium` (Debian's `chromium` package) and skips when it is missing, except in CI
(env `CI` set), where it fails.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
)

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from handoff import console
from storage.db import Database
from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.handoff.conftest import Api

PASSWORD = "correct horse battery staple"
LIVE = 20_000  # ms: how long the page may take to show what the server pushed


@pytest.fixture
async def console_api(handoff_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    """The whole service (gateway, workers, handoff, console) on a real TCP port."""
    settings = handoff_settings()
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        yield Api(client, settings)


def _serves(app: Any, path: str) -> bool:
    return any(getattr(r, "canonical", None) == path for r in app.router.resources())


class PageErrors:
    """Script errors and failed requests the page met (expected 401s aside)."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", self._console)

    def _console(self, msg: ConsoleMessage) -> None:
        # Before login, `GET /api/me` answers 401 and Chromium logs the failed load.
        if msg.type == "error" and "status of 401" not in msg.text:
            self.errors.append(f"console: {msg.text}")


async def log_in(page: Page, base: str, name: str, password: str) -> None:
    await page.goto(f"{base}/console")
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#login-name", name)
    await page.fill("#login-password", password)
    await page.click("#login-submit")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#me-name")).to_have_text(name)
    # the live stream is open before anything happens that the page should see
    await expect(page.locator("#live")).to_have_class("live on", timeout=LIVE)


async def open_console(browser: Browser) -> tuple[BrowserContext, Page, PageErrors]:
    """A fresh browser profile (its own cookies) with one page, watched for errors."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    return context, page, PageErrors(page)


def texts_to(fake: FakeTelegram, chat: int) -> list[str]:
    return [str(m.get("text", "")) for m in fake.sent_messages(chat)]


async def wait_for_text(fake: FakeTelegram, chat: int, needle: str) -> list[str]:
    await fake.wait_for(lambda: any(needle in t for t in texts_to(fake, chat)), timeout=20)
    return texts_to(fake, chat)


@pytest.mark.browser
async def test_agent_handles_a_telegram_customer_in_the_console(
    console_api: Api, fake_telegram: FakeTelegram, browser: Browser
) -> None:
    api, fake = console_api, fake_telegram
    await api.add_agent(
        "anna", ["general", "orders"], ["en", "uk"], password=PASSWORD, online=False
    )
    base = str(api.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    try:
        # a wrong password is refused on the page, without a reload
        await page.goto(f"{base}/console")
        await page.fill("#login-name", "anna")
        await page.fill("#login-password", "not the password")
        await page.click("#login-submit")
        await expect(page.locator("#login-error")).to_have_text("Wrong name or password.")

        await log_in(page, base, "anna", PASSWORD)
        await expect(page.locator("#my-status")).to_have_text("away")
        await page.click("#status-toggle")  # "Go online"
        await expect(page.locator("#my-status")).to_have_text("online")
        await page.evaluate("window.__noReload = true")  # gone if the page ever reloads

        # the customer asks for a person on Telegram and is told someone will answer
        chat = new_chat_id()
        await api.telegram(
            text_update(chat, "i want to talk to a human", update_id=new_update_id())
        )
        await wait_for_text(fake, chat, "colleague")

        # the ticket shows up by itself, with the customer's name, channel and language
        row = page.locator("#tickets li", has_text="Olena")
        await expect(row).to_be_visible(timeout=LIVE)
        await expect(row.locator(".badge")).to_have_text("telegram")
        await expect(row.locator(".tag")).to_have_text("en")
        assert await page.evaluate("window.__noReload === true")
        # the list itself names the customer: no ticket was fetched one by one for it
        assert not [u for u in requested if re.search(r"/api/tickets/\d+", u)], requested

        await row.click()
        timeline = page.locator("#timeline")
        asked = timeline.locator(".msg.from-customer", has_text="i want to talk to a human")
        await expect(asked).to_be_visible()
        await expect(asked.locator(".badge")).to_have_text("telegram")
        await expect(timeline.locator(".msg.from-bot").last).to_contain_text("colleague")
        await expect(page.locator("#profile-fields")).to_contain_text("Olena")

        # claim, then reply with an edited canned reply
        await expect(page.locator("#reply-send")).to_be_disabled()
        await page.click("#claim")
        await expect(page.locator("#ticket-status")).to_have_text("assigned")
        await expect(page.locator("#claim")).to_be_hidden()
        await page.select_option("#canned", label="Greeting")
        reply = page.locator("#reply-text")
        await expect(reply).to_have_value("Hello! My name is anna, and I'll help you with this.")
        await reply.fill("Hello! My name is anna. What is your order number?")
        await page.click("#reply-send")
        mine = timeline.locator(".msg.from-agent", has_text="What is your order number?")
        await expect(mine).to_be_visible()
        await expect(reply).to_have_value("")

        # the reply reaches the customer on Telegram
        await wait_for_text(fake, chat, "What is your order number?")

        # the customer answers; markup in it is shown as text, never run or rendered
        answer = "A1001 <img src=x onerror=alert(1)> <b>thanks</b>"
        await api.telegram(text_update(chat, answer, update_id=new_update_id()))
        answered = timeline.locator(".msg.from-customer .text", has_text="A1001")
        await expect(answered).to_have_text(answer, timeout=LIVE)
        assert await timeline.locator("img, b").count() == 0
        assert await page.evaluate("window.__noReload === true")

        # close with a resolution: the customer is handed back and asked for a score
        await page.fill("#resolution", "Order A1001 is on its way; gave the tracking number")
        await page.click("#close")
        await expect(page.locator("#ticket-status")).to_have_text("closed")
        await expect(page.locator("#reply-form")).to_be_hidden()
        await expect(page.locator("#context-fields")).to_contain_text("Order A1001 is on its way")
        sent = await wait_for_text(fake, chat, "How would you rate")

        # the bot stayed silent while the agent had the customer
        after_reply = sent[sent.index("Hello! My name is anna. What is your order number?") + 1 :]
        assert not any("A1001" in t for t in after_reply), after_reply

        await page.click("#tabs button[data-status=closed]")
        await expect(page.locator("#tickets li", has_text="Olena")).to_be_visible()

        # the agent picks the conversation up again on their own from its closed ticket
        await expect(page.locator("#take-over")).to_be_visible()
        await page.click("#take-over")
        await expect(page.locator("#ticket-status")).to_have_text("assigned")
        await expect(page.locator("#ticket-meta")).to_contain_text("Agent initiated")
        await expect(page.locator("#take-over")).to_be_hidden()
        await expect(page.locator("#tabs button[data-status=assigned]")).to_have_attribute(
            "aria-selected", "true"
        )
        await page.fill("#reply-text", "One more thing about A1001")
        await page.click("#reply-send")
        await wait_for_text(fake, chat, "One more thing about A1001")

        await page.click("#logout")
        await expect(page.locator("#login")).to_be_visible()
        assert errors.errors == []
    finally:
        await context.close()


@pytest.mark.browser
async def test_transfer_to_another_team_and_on_to_an_agent(
    console_api: Api, fake_telegram: FakeTelegram, browser: Browser
) -> None:
    api, fake = console_api, fake_telegram
    anna_id, _ = await api.add_agent("anna", ["general"], ["en"], password=PASSWORD)
    await api.add_agent("bohdan", ["orders"], ["en", "uk"], password=PASSWORD)
    base = str(api.client.make_url("")).rstrip("/")
    (ctx_a, anna, errors_a), (ctx_b, bohdan, errors_b) = (
        await open_console(browser),
        await open_console(browser),
    )
    try:
        await log_in(anna, base, "anna", PASSWORD)
        await log_in(bohdan, base, "bohdan", PASSWORD)
        chat = new_chat_id()
        await api.telegram(text_update(chat, "can i speak to a person", update_id=new_update_id()))
        await wait_for_text(fake, chat, "colleague")

        # routed to anna (general, en, online): offered to her; bohdan does not see it
        row = anna.locator("#tickets li", has_text="Olena")
        await expect(row).to_be_visible(timeout=LIVE)
        await expect(row).to_contain_text("offered → anna")
        async with bohdan.expect_response(lambda r: "/api/tickets?status=" in r.url) as listed:
            await bohdan.click("#tabs button[data-status=queued]")
        assert (await (await listed.value).json())["tickets"] == []

        # anna claims and hands it to the orders team, where bohdan gets it live
        await row.click()
        await anna.click("#claim")
        await expect(anna.locator("#ticket-status")).to_have_text("assigned")
        # every team is a target (not only what some agent serves), with who is there now
        targets = anna.locator("#transfer-target option")
        await expect(targets.filter(has_text="Queue: bookings / uk")).to_have_count(1)
        await expect(targets.filter(has_text="Queue: orders / en")).to_contain_text("1 online")
        await anna.select_option("#transfer-target", "queue:orders:en")
        await anna.click("#transfer")
        await expect(anna.locator("#placeholder")).to_be_visible()
        await expect(anna.locator("#tickets li", has_text="Olena")).to_have_count(0)
        offered = bohdan.locator("#tickets li", has_text="Olena")
        await expect(offered).to_contain_text("offered → bohdan", timeout=LIVE)

        await offered.click()
        await bohdan.click("#claim")
        await bohdan.fill("#reply-text", "Bohdan from the orders team here.")
        await bohdan.click("#reply-send")
        await wait_for_text(fake, chat, "Bohdan from the orders team here.")

        # bohdan passes it straight to anna, who sees it arrive among her assigned tickets
        await anna.click("#tabs button[data-status=assigned]")
        await expect(anna.locator("#tickets-empty")).to_be_visible()
        await bohdan.select_option("#transfer-target", f"agent:{anna_id}")
        await bohdan.click("#transfer")
        mine = anna.locator("#tickets li", has_text="Olena")
        await expect(mine).to_contain_text("→ anna", timeout=LIVE)
        await mine.click()
        await expect(anna.locator("#reply-send")).to_be_enabled()
        await expect(anna.locator("#timeline .msg.from-agent")).to_contain_text(
            "Bohdan from the orders team here."
        )
        assert errors_a.errors == [] and errors_b.errors == []
    finally:
        await ctx_a.close()
        await ctx_b.close()


@pytest.mark.browser
async def test_supervisor_takes_over_from_the_conversations_view(
    console_api: Api, fake_telegram: FakeTelegram, browser: Browser
) -> None:
    """A customer who never asked for a person is found and taken over; the console marks
    how each reply fared, live."""
    api, fake = console_api, fake_telegram
    await api.add_agent("sofia", ["general"], ["en", "uk"], role="supervisor", password=PASSWORD)
    chat = new_chat_id()
    await api.telegram(text_update(chat, "hello", update_id=new_update_id()))
    await fake.wait_for(lambda: len(fake.sent_messages(chat)) >= 1)
    base = str(api.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    try:
        await log_in(page, base, "sofia", PASSWORD)
        await page.click("#tabs button[data-status=conversations]")
        await page.fill("#conv-q", "olena")
        await page.click("#conv-search-go")
        row = page.locator("#conversation-list li", has_text="Olena")
        await expect(row).to_have_count(1)
        await expect(row.locator(".badge")).to_have_text("telegram")
        await expect(row.locator(".last")).to_contain_text("Bot: ")
        await row.locator("button.take-over").click()
        await expect(page.locator("#ticket-status")).to_have_text("assigned")
        await expect(page.locator("#ticket-meta")).to_contain_text("Agent initiated")
        await expect(page.locator("#tabs button[data-status=assigned]")).to_have_attribute(
            "aria-selected", "true"
        )

        timeline = page.locator("#timeline")
        await page.fill("#reply-text", "Sofia here, how can I help?")
        await page.click("#reply-send")
        mine = timeline.locator(".msg.from-agent", has_text="Sofia here")
        await expect(mine).to_have_attribute("data-delivery", "sent", timeout=LIVE)
        await wait_for_text(fake, chat, "Sofia here, how can I help?")

        # the customer has blocked the bot meanwhile: the reply is marked, live
        fake.fail_next("sendMessage", status=403)
        await page.fill("#reply-text", "Are you still there?")
        await page.click("#reply-send")
        lost = timeline.locator(".msg.from-agent", has_text="Are you still there?")
        await expect(lost).to_have_attribute("data-delivery", "undeliverable", timeout=LIVE)
        await expect(lost.locator(".delivery-error")).to_contain_text("blocked")

        # the conversation now shows its open ticket, mine
        await page.click("#tabs button[data-status=conversations]")
        await expect(row).to_contain_text("ticket assigned → sofia")
        await expect(row.locator("button.take-over")).to_have_text("Open")
        assert errors.errors == []
    finally:
        await context.close()


async def test_create_app_serves_the_console(
    handoff_settings: Callable[..., Settings],
) -> None:
    """The console is part of the gateway: page, assets and canned replies, with a CSP."""
    app = create_app(handoff_settings())
    assert _serves(app, "/console")
    async with TestClient(TestServer(app)) as client:
        page = await client.get("/console")
        assert page.status == 200
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert '<script src="/console/static/console.js"' in await page.text()
        for name in ("console.js", "ticket.js", "conversations.js"):
            js = await client.get(f"/console/static/{name}")
            assert js.status == 200 and js.content_type == "application/javascript"
        not_an_asset = await client.get("/console/static/console.py")
        assert not_an_asset.status == 404
        canned = await (await client.get("/console/canned")).json()
        assert {"uk", "en"} <= set(canned)
        assert all(r["title"] and r["text"] for replies in canned.values() for r in replies)


def test_canned_replies_file_is_checked() -> None:
    assert console.canned_replies()["en"][0]["title"] == "Greeting"
    bad: list[Any] = [
        ["not", "a", "mapping"],
        {"en": "not a list"},
        {"en": [{"title": "no text"}]},
        {"en": [{"title": " ", "text": "blank title"}]},
    ]
    for doc in bad:
        with pytest.raises(console.CannedRepliesError):
            console.parse_canned(doc)
