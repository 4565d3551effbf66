"""Customer text is never HTML: markup stored in a customer's message, their name and an
agent's note (a reply and the closing resolution) is shown as text in a real browser and none of
it runs (each payload would set ``window.__pwned``)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.bots.conftest import new_chat_id, new_update_id
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.handoff.conftest import Api
from tests.handoff.test_console_browser import (  # noqa: F401 (the fixture)
    LIVE,
    PASSWORD,
    console_api,
    log_in,
    open_console,
    wait_for_text,
)

NAME = "Olena <img src=x onerror=\"window.__pwned='name'\"><script>window.__pwned='n'</script>"
MESSAGE = (
    "order A7 <img src=x onerror=\"window.__pwned='message'\"> "
    "<script>window.__pwned='script'</script> <svg onload=\"window.__pwned='svg'\"></svg>"
)
REPLY = "on it <img src=x onerror=\"window.__pwned='reply'\"> <b>bold</b>"
NOTE = "done <img src=x onerror=\"window.__pwned='note'\"><iframe src=javascript:1></iframe>"
SHOWN = "#tickets, #conversation-list, #ticket-title, #profile-fields, #context-fields, #timeline"


def named(update: dict[str, Any], name: str) -> dict[str, Any]:
    update["message"]["from"]["first_name"] = name
    update["message"]["chat"]["first_name"] = name
    return update


async def markup_in(page: Page) -> list[str]:
    """Elements the payloads would have made inside what the console shows."""
    found: list[str] = await page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].flatMap((box) =>
            [...box.querySelectorAll("img, script, svg, iframe, b")].map((n) => n.outerHTML))""",
        SHOWN,
    )
    return found


@pytest.mark.browser
async def test_markup_from_customers_and_agents_is_shown_as_text_and_never_runs(
    console_api: Api,  # noqa: F811
    fake_telegram: FakeTelegram,
    browser: Browser,
) -> None:
    api, fake = console_api, fake_telegram
    _, token = await api.add_agent("anna", ["general"], ["en", "uk"], password=PASSWORD)
    chat = new_chat_id()
    await api.telegram(named(text_update(chat, MESSAGE, update_id=new_update_id()), NAME))
    await api.telegram(
        named(text_update(chat, "i want to talk to a human", update_id=new_update_id()), NAME)
    )
    await wait_for_text(fake, chat, "colleague")
    [ticket] = await api.tickets(token)
    await api.ok("POST", f"/api/tickets/{ticket['id']}/claim", token)
    await api.ok("POST", f"/api/tickets/{ticket['id']}/messages", token, {"text": REPLY})
    await api.ok("POST", f"/api/tickets/{ticket['id']}/close", token, {"resolution": NOTE})

    base = str(api.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    try:
        await log_in(page, base, "anna", PASSWORD)
        await page.click("#tabs button[data-status=closed]")
        row = page.locator("#tickets li", has_text="Olena")
        await expect(row.locator(".name")).to_have_text(NAME, timeout=LIVE)
        await row.click()
        await expect(page.locator("#ticket-title")).to_have_text(NAME)
        timeline = page.locator("#timeline")
        await expect(timeline.locator(".msg.from-customer .text").first).to_have_text(MESSAGE)
        await expect(timeline.locator(".msg.from-agent .text")).to_have_text(REPLY)
        await expect(page.locator("#profile-fields")).to_contain_text(NAME)
        await expect(page.locator("#context-fields")).to_contain_text(NOTE)

        await page.click("#tabs button[data-status=conversations]")
        person = page.locator("#conversation-list li", has_text="Olena")
        await expect(person.locator(".name")).to_have_text(NAME, timeout=LIVE)

        assert await markup_in(page) == []
        assert await page.evaluate("typeof window.__pwned") == "undefined"
        assert errors.errors == []
    finally:
        await context.close()
