"""A reload of the simulator page draws the person's own messages again, each where it was
between the bot's (newcomer trial, issue 17: only the bot's side came back), on every tab."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.simulator.conftest import say

pytestmark = pytest.mark.browser
WAIT_MS = 20_000


async def log_of(page: Page, channel: str) -> list[str]:
    """The tab's bubbles in order, the person's marked "me:"."""
    items = page.locator(f"#tab-{channel} .log .msg")
    return [
        ("me: " if "me" in (await m.get_attribute("class") or "").split() else "bot: ")
        + await m.inner_text()
        for m in await items.all()
    ]


async def say_and_wait(page: Page, text: str) -> None:
    """Send ``text`` on the Telegram tab and wait for the bot's answer to it."""
    bots = page.locator("#tab-telegram .msg.bot")
    before = await bots.count()
    await say(page, "telegram", text)
    await expect(bots).not_to_have_count(before, timeout=WAIT_MS)


async def test_a_reload_keeps_the_persons_side(page: Page) -> None:
    await page.select_option("#person-language", "en")
    tab = page.locator("#tab-telegram")
    await say_and_wait(page, "hi")
    await tab.locator('.tg-inline button[data-payload="/check_order_status"]').first.click()
    await expect(tab.locator(".msg.bot").last).to_contain_text("A1001", timeout=WAIT_MS)
    await say_and_wait(page, "A1001")
    await say_and_wait(page, "thanks")
    await expect(tab.locator(".msg.me")).to_have_count(4)
    before = await log_of(page, "telegram")

    await page.reload()
    await expect(tab.locator(".msg").nth(len(before) - 1)).to_be_visible(timeout=WAIT_MS)
    # a last part of the bot's answer may have come after `before` was read: only at the end
    assert (await log_of(page, "telegram"))[: len(before)] == before
    await expect(page.locator("#tab-viber .msg.me")).to_have_count(0)
