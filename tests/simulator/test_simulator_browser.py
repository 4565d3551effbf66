"""The simulator page in a real headless browser (Debian's chromium driven by Playwright): a
person chats on each tab, taps the platform's buttons and shares a phone."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.simulator.conftest import say

# The `browser` fixture (tests/conftest.py) skips without chromium, and fails in CI.
pytestmark = pytest.mark.browser
# Waits for the page's reaction (Playwright polls the DOM); generous for two shared cores.
WAIT_MS = 20_000


def bot_messages(page: Page, channel: str) -> object:
    return page.locator(f"#tab-{channel} .msg.bot")


async def test_telegram_tab(page: Page) -> None:
    await page.select_option("#person-language", "en")
    await say(page, "telegram", "hi")
    tab = page.locator("#tab-telegram")
    # the greeting with an inline keyboard under it
    button = tab.locator('.tg-inline button[data-payload="/check_order_status"]')
    await expect(button).to_be_visible(timeout=WAIT_MS)
    await expect(tab.locator(".msg.me")).to_have_text(["hi"])
    await button.click()
    await expect(tab.locator(".msg.bot").nth(1)).to_contain_text("A1001", timeout=WAIT_MS)
    await say(page, "telegram", "A1001")
    await expect(tab.locator(".msg.bot").nth(2)).to_contain_text("A1001", timeout=WAIT_MS)
    # share phone: Telegram's own contact, and the bot answers it
    await page.fill("#person-phone", "+380671112233")
    await page.locator("#person-phone").dispatch_event("change")
    await tab.locator("button.share-phone").click()
    await expect(tab.locator(".msg.me").last).to_have_text("📞 +380671112233")
    await expect(tab.locator(".msg.bot")).to_have_count(4, timeout=WAIT_MS)
    await expect(tab.locator(".msg.err")).to_have_count(0)


async def test_viber_tab(page: Page) -> None:
    await page.locator('.tab[data-tab="viber"]').click()
    tab = page.locator("#tab-viber")
    # opening the chat is `conversation_started`: the welcome from the webhook's answer
    await expect(tab.locator(".msg.bot").first).to_contain_text("A1001", timeout=WAIT_MS)
    await say(page, "viber", "привіт")
    keyboard = tab.locator(".viber-keyboard")
    tap = keyboard.locator('button[data-action="reply"][data-payload$="/check_order_status"]')
    await expect(tap).to_be_visible(timeout=WAIT_MS)
    await expect(tab.locator(".msg.bot").nth(1)).to_contain_text("Вітаю")
    await tap.click()
    await expect(tab.locator(".msg.bot").nth(2)).to_contain_text("A1001", timeout=WAIT_MS)
    await tab.locator("button.share-phone").click()
    await expect(tab.locator(".msg.me").last).to_contain_text("📞 +380")
    await expect(tab.locator(".msg.bot")).to_have_count(4, timeout=WAIT_MS)
    await expect(tab.locator(".msg.err")).to_have_count(0)


async def test_instagram_tab(page: Page) -> None:
    await page.locator('.tab[data-tab="instagram"]').click()
    await page.select_option("#person-language", "en")
    tab = page.locator("#tab-instagram")
    await say(page, "instagram", "hi")
    quick = tab.locator('.ig-quick-replies button[data-payload="/check_order_status"]')
    await expect(quick).to_be_visible(timeout=WAIT_MS)
    await quick.click()
    await expect(tab.locator(".ig-quick-replies")).to_be_hidden()
    await expect(tab.locator(".msg.bot").nth(1)).to_contain_text("A1001", timeout=WAIT_MS)
    # no contact button on Instagram: the phone goes as text
    await tab.locator("button.share-phone").click()
    await expect(tab.locator(".msg.bot")).to_have_count(3, timeout=WAIT_MS)
    # the timeline shows this customer's Instagram messages, tagged with the channel
    await page.locator('.tab[data-tab="timeline"]').click()
    timeline = page.locator("#tab-timeline .timeline li")
    await expect(timeline).to_have_count(6, timeout=WAIT_MS)
    await expect(page.locator('#tab-timeline li[data-channel="instagram"]')).to_have_count(6)
