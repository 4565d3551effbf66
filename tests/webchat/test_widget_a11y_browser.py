"""The widget for keyboard and screen-reader users (newcomer trial, issue 17): choosing a quick
reply with the keyboard leaves focus in the message field (it fell to the page when the chip
was retired), and an agent's message is announced as "Agent: …" once, not twice."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Locator, expect

from tests.webchat.conftest import Service
from tests.webchat.test_widget_browser import (
    LIVE,
    agent_on_duty,
    claimed_ticket,
    last_bot,
    no_errors,
    say,
    widget,
)

pytestmark = pytest.mark.browser

# What a screen reader reads of a node: its text, without what is hidden from it.
SPOKEN = """(node) => {
  const parts = [];
  const walk = (n) => {
    if (n.nodeType === Node.TEXT_NODE) { parts.push(n.textContent); return; }
    if (n.getAttribute && n.getAttribute("aria-hidden") === "true") return;
    n.childNodes.forEach(walk);
  };
  walk(node);
  return parts.join("");
}"""


async def spoken(node: Locator) -> str:
    return str(await node.evaluate(SPOKEN))


async def test_a_chip_chosen_by_keyboard_leaves_focus_in_the_message_field(
    webchat: Service, browser: Browser
) -> None:
    page = await widget(browser, webchat)
    await say(page, "I'd like to book a teeth cleaning")
    await expect(last_bot(page)).to_contain_text("When would you like")
    await say(page, "tomorrow")
    chip = last_bot(page).locator(".orw-chip").first
    await expect(chip).to_be_visible()
    answered = await page.locator(".orw-bot").count()
    await chip.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#orw-input")).to_be_focused()
    await expect(page.locator(".orw-bot")).not_to_have_count(answered, timeout=LIVE)
    await expect(page.locator("#orw-input")).to_be_focused()  # still, after the reply
    no_errors(page)


async def test_an_agents_message_is_announced_once(webchat: Service, browser: Browser) -> None:
    token = await agent_on_duty(webchat)
    page = await widget(browser, webchat)
    await say(page, "I want to talk to a person")
    ticket = await claimed_ticket(webchat, token)
    path = f"/api/tickets/{ticket['id']}/messages"
    await webchat.api("POST", path, token, {"text": "Hello, Olena here."})
    reply = page.locator(".orw-agent").last
    await expect(reply.locator(".orw-text")).to_have_text("Hello, Olena here.", timeout=LIVE)
    await expect(reply.locator(".orw-who")).to_be_visible()  # seen as a label
    said = await spoken(reply)
    assert said == "Agent: Hello, Olena here.", said
    no_errors(page)
