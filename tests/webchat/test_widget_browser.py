"""The web chat widget in a real browser (Debian's Chromium driven by Playwright) at a phone's
viewport, against the running service on both backends: a booking in the widget, a request for
a person, the agent's reply (through the agent API, as the console sends it) arriving live, the
CSAT question after the agent closes; and a dropped stream that misses nothing on reconnect."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, ViewportSize, expect
from sqlalchemy import select

from storage.db import Database
from storage.models import Message
from tests.fakes import wait_until
from tests.simulator.journey import open_day
from tests.webchat.conftest import Proxy, Service

pytestmark = pytest.mark.browser
LIVE = 20_000  # ms: how long the page may take to show what the server pushed
PHONE: ViewportSize = {"width": 390, "height": 844}
AGENT_REPLY = 'Hi, this is Olena from the desk <img src=x onerror="window.__pwned=1"> <b>ok</b>'


async def widget(
    browser: Browser, service: Service, locale: str = "en-US", base: str | None = None
) -> Page:
    context = await browser.new_context(
        viewport=PHONE, locale=locale, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{base or service.base}/chat")
    await expect(page.locator("#orw-panel")).to_be_visible(timeout=LIVE)
    await expect(page.locator(".orw")).to_have_class(re.compile("orw-live"), timeout=LIVE)
    page.set_default_timeout(LIVE)
    setattr(page, "_errors", errors)  # noqa: B010 (read back by `no_errors`)
    return page


def no_errors(page: Page) -> None:
    assert getattr(page, "_errors", []) == []


async def say(page: Page, text: str) -> None:
    await page.locator("#orw-input").fill(text)
    await page.locator("#orw-input").press("Enter")


def last_bot(page: Page) -> Locator:
    return page.locator(".orw-bot, .orw-agent").last


async def agent_on_duty(service: Service) -> str:
    body = {"name": "olena", "skills": ["general", "bookings", "orders"], "languages": ["en"]}
    token = str((await service.api("POST", "/api/agents", body=body))["token"])
    await service.api("POST", "/api/me/status", token, {"status": "online"})
    return token


async def claimed_ticket(service: Service, token: str) -> dict[str, Any]:
    async def offered() -> list[Any]:
        tickets = (await service.api("GET", "/api/tickets?status=offered", token))["tickets"]
        return list(tickets)  # this test's own database: the web chat visitor's

    [ticket] = await wait_until(offered, timeout=LIVE / 1000, what="the web chat's ticket")
    await service.api("POST", f"/api/tickets/{ticket['id']}/claim", token)
    return dict(ticket)


async def book(page: Page) -> None:
    day = open_day()
    await say(page, "I'd like to book a teeth cleaning")
    await expect(last_bot(page)).to_contain_text("When would you like")
    await say(page, f"on {day}")
    await expect(last_bot(page)).to_contain_text(f"What time on {day}")
    await last_bot(page).locator(".orw-chip").first.click()  # a free time, as a quick reply
    await expect(last_bot(page)).to_contain_text(re.compile("name", re.IGNORECASE))
    await say(page, "Olena Petrenko")
    phone = page.locator(".orw-phoneform")  # the flow asks for the phone: a phone field
    await expect(phone).to_be_visible()
    await page.locator("#orw-phone").fill("+380931112233")
    await page.locator("#orw-phone").press("Enter")
    yes = last_bot(page).locator('.orw-chip[data-payload="/affirm"]')
    await expect(yes).to_be_visible()
    await yes.click()
    await expect(last_bot(page)).to_contain_text(re.compile(r"BK-[A-Z0-9]{6}"))


async def test_booking_handoff_live_agent_reply_and_csat_on_a_phone(
    webchat: Service, browser: Browser, tmp_path: Path
) -> None:
    token = await agent_on_duty(webchat)
    page = await widget(browser, webchat)
    log = page.locator('.orw-log[role="log"]')
    await expect(log).to_have_attribute("aria-live", "polite")
    await expect(page.locator("#orw-input")).to_be_focused()  # keyboard first
    await book(page)

    await say(page, "I want to talk to a person")
    ticket = await claimed_ticket(webchat, token)
    await webchat.api("POST", f"/api/tickets/{ticket['id']}/messages", token, {"text": AGENT_REPLY})
    reply = page.locator(".orw-agent").last
    await expect(reply.locator(".orw-text")).to_have_text(AGENT_REPLY)  # live, and as text
    await expect(log.locator("img:not(.orw-qr), b")).to_have_count(0)
    assert await page.evaluate("window.__pwned === undefined")
    await say(page, "thanks, that helps")
    await webchat.api(
        "POST", f"/api/tickets/{ticket['id']}/close", token, {"resolution": "answered"}
    )
    scores = last_bot(page).locator(".orw-chip")
    await expect(scores).to_have_count(5)
    await scores.last.click()
    await expect(last_bot(page)).to_contain_text("Thank you for your rating")
    done = await webchat.api("GET", f"/api/tickets/{ticket['id']}", token)
    assert done["csat"] == 5
    transcript = [(m["from"], m["text"]) for m in done["transcript"]]
    assert ("customer", "thanks, that helps") in transcript
    assert ("agent", AGENT_REPLY) in transcript

    # the panel fills the phone's screen and nothing overflows sideways
    box = await page.locator("#orw-panel").bounding_box()
    assert box is not None and box["width"] == PHONE["width"]
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=str(tmp_path / "webchat-phone.png"), full_page=True)
    assert (tmp_path / "webchat-phone.png").stat().st_size > 0
    no_errors(page)


async def test_a_dropped_stream_shows_what_was_said_meanwhile_once(
    webchat: Service, browser: Browser
) -> None:
    token = await agent_on_duty(webchat)
    proxy = Proxy(webchat.server.port or 0)  # the browser reaches the service through it
    await proxy.start()
    try:
        page = await widget(browser, webchat, base=f"http://127.0.0.1:{proxy.port}")
        await say(page, "I want to talk to a person")
        ticket = await claimed_ticket(webchat, token)
        await expect(page.locator(".orw-bot")).not_to_have_count(0)
        shown = await page.locator(".orw-msg").count()

        proxy.cut()  # the stream drops (a tunnel, a lift, a dead Wi-Fi) and stays down
        await expect(page.locator(".orw")).not_to_have_class(re.compile("orw-live"))
        text = "Your order left the warehouse this morning."
        path = f"/api/tickets/{ticket['id']}/messages"
        await webchat.api("POST", path, token, {"text": text})
        await wait_until(lambda: agent_reply_sent(webchat), timeout=LIVE / 1000, what="sent")
        proxy.restore()

        await expect(page.locator(".orw-agent .orw-text")).to_have_text([text], timeout=LIVE)
        await expect(page.locator(".orw")).to_have_class(re.compile("orw-live"))
        assert await page.locator(".orw-msg").count() == shown + 1  # nothing shown twice
        no_errors(page)
    finally:
        await proxy.close()


async def agent_reply_sent(service: Service) -> bool:
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            found = await s.scalar(
                select(Message.id).where(
                    Message.channel == "webchat",
                    Message.sender_kind == "agent",
                    Message.status == "sent",
                )
            )
            return found is not None
    finally:
        await db.dispose()


async def test_the_widget_speaks_the_visitors_language(webchat: Service, browser: Browser) -> None:
    page = await widget(browser, webchat, locale="uk-UA")
    await expect(page.locator(".orw-close")).to_have_attribute("aria-label", "Закрити чат")
    await expect(page.locator("#orw-input")).to_have_attribute(
        "placeholder", "Напишіть повідомлення…"
    )
    await page.keyboard.press("Escape")  # the keyboard closes the panel
    await expect(page.locator("#orw-panel")).to_be_hidden()
    await expect(page.locator(".orw-launcher")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#orw-panel")).to_be_visible()
    await say(page, "привіт")
    await expect(page.locator(".orw-bot").last).to_contain_text(re.compile("[А-Яа-яіїєґ]"))

    # "continue on the phone": the messenger's deep link, and its QR code drawn as an image
    await page.get_by_role("button", name="Продовжити в месенджері").click()
    link = page.locator(".orw-link", has_text="Telegram").last
    await expect(link).to_have_attribute("href", re.compile(r"^https://t\.me/omnirelay_test_bot"))
    qr = page.locator(".orw-qr").last
    await expect(qr).to_be_visible()
    assert await qr.evaluate("(img) => img.complete && img.naturalWidth > 0")
    await expect(page.locator(".orw-phoneform")).to_be_visible()  # and the phone field
    no_errors(page)
