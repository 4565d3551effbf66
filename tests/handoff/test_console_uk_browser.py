"""The agent console in Ukrainian (trial 3, T17), in a real browser: chosen by `?lang=uk` or
by the language select (on the login card and in the top bar, remembered across a reload and
carried to the dashboard), every interface text on the main screens is Ukrainian (no English
text of the table is left, in the visible text, titles, labels and placeholders), and what the
scripts write (status, notices, the ticket's words) is said in the chosen language."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.handoff.conftest import Api
from tests.handoff.test_console_browser import (  # noqa: F401 (the fixture)
    LIVE,
    PASSWORD,
    console_api,
    open_console,
)
from tests.handoff.test_console_i18n import console_texts

# The page's words as a person meets them: visible text (the language select aside, it names
# both languages), and the titles, aria-labels and placeholders of every element.
SHOWN = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    let holder = n.parentElement;
    if (!holder || holder.closest("select.ui-lang")) continue;
    if (holder.tagName === "OPTION") holder = holder.closest("select");
    if (holder && holder.checkVisibility()) out.push(n.textContent);
  }
  for (const node of document.body.querySelectorAll("[title], [aria-label], [placeholder]")) {
    for (const name of ["title", "aria-label", "placeholder"]) {
      out.push(node.getAttribute(name) || "");
    }
  }
  return out.join("\\n");
}"""


def english_words() -> set[str]:
    """The fixed parts of every English text that has no place in the Ukrainian ones (e.g.
    "CSAT" is in both), at least three characters with a Latin letter."""
    texts = console_texts()
    ukrainian = "\n".join(pair[1] for pair in texts.values())
    words: set[str] = set()
    for english, _ in texts.values():
        for part in re.split(r"\{\w+\}", english):
            part = part.strip(" :·→()#.…✓✗")
            if len(part) >= 3 and re.search("[A-Za-z]", part) and part not in ukrainian:
                words.add(part)
    return words


async def assert_no_english(page: Page) -> None:
    shown = await page.evaluate(SHOWN)
    left = sorted(w for w in english_words() if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", shown))
    assert not left, f"English interface texts left: {left}\n---\n{shown}"


async def a_waiting_customer(api: Api) -> None:
    """A Ukrainian customer asks for a person on the REST channel: a queued ticket."""
    await api.rest("olena-uk", "Хочу поговорити з людиною", language="uk")
    await api.rest("olena-uk", payload="/handoff_message")
    assert await api.tickets(status="queued")


@contextlib.asynccontextmanager
async def a_console(api: Api, browser: Browser, agent: str, role: str) -> AsyncIterator[Page]:
    """A waiting Ukrainian customer, and the console of `agent` in a fresh browser profile
    (English-speaking, nobody logged in yet); no page errors."""
    await api.add_agent(
        agent, ["general"], ["en", "uk"], role=role, password=PASSWORD, online=False
    )
    await a_waiting_customer(api)
    context, page, errors = await open_console(browser)
    try:
        yield page
        assert errors.errors == []
    finally:
        await context.close()


@pytest.mark.browser
async def test_the_console_in_ukrainian_by_the_address(
    console_api: Api,  # noqa: F811 (the imported fixture, requested)
    browser: Browser,
    tmp_path: Path,
) -> None:
    base = str(console_api.client.make_url("")).rstrip("/")
    async with a_console(console_api, browser, "anna", "agent") as page:
        await page.goto(f"{base}/console?lang=uk")
        await expect(page.locator("html")).to_have_attribute("lang", "uk")
        await expect(page.locator("#login-submit")).to_have_text("Увійти")
        await expect(page.locator("#login-form")).to_contain_text("Ім’я")
        await expect(page.locator("#login-form")).to_contain_text("Пароль")
        await page.fill("#login-name", "anna")
        await page.fill("#login-password", "not the password")
        await page.click("#login-submit")
        await expect(page.locator("#login-error")).to_have_text("Неправильне ім’я або пароль.")
        await assert_no_english(page)

        await page.fill("#login-password", PASSWORD)
        await page.click("#login-submit")
        await expect(page.locator("#live")).to_have_text("наживо", timeout=LIVE)
        await expect(page.locator("#me-role")).to_have_text("оператор")
        await expect(page.locator("#my-status")).to_have_text("не на зв’язку")
        await expect(page.locator("#status-toggle")).to_have_text("Вийти на зв’язок")
        tabs = page.locator("#tabs button")
        await expect(tabs).to_contain_text(["У черзі", "В роботі", "Закриті", "Розмови"])

        await page.locator("#tickets li").first.click()
        await expect(page.locator("#ticket-status")).to_have_text("у черзі", timeout=LIVE)
        await expect(page.locator("#claim")).to_have_text("Взяти в роботу")
        await expect(page.locator("#transfer")).to_have_text("Передати")
        await expect(page.locator("#close")).to_have_text("Закрити звернення")
        await expect(page.locator("#context-fields")).to_contain_text("Клієнт попросив людину")
        await expect(page.locator("#context-fields")).to_contain_text("залишити повідомлення")
        await expect(page.locator("#reply-text")).to_have_attribute(
            "placeholder", "Візьміть звернення в роботу, щоб відповісти."
        )
        await page.click("#claim")
        await expect(page.locator("#notice")).to_have_text("Взято в роботу")
        await expect(page.locator("#ticket-status")).to_have_text("в роботі", timeout=LIVE)
        await expect(page.locator("#reply-text")).to_have_attribute(
            "placeholder", "Відповідь клієнтові…"
        )
        await expect(page.locator("#timeline")).to_contain_text("Хочу поговорити з людиною")
        await expect(page.locator("#timeline .msg.from-customer .who").first).to_contain_text(
            "Клієнт"
        )
        await page.screenshot(path=tmp_path / "console-uk-ticket.png", full_page=True)
        await assert_no_english(page)

        await page.click("#tabs button[data-status=conversations]")
        row = page.locator("#conversation-list li").first
        await expect(row.locator("button.take-over")).to_have_text("Відкрити", timeout=LIVE)
        await expect(page.locator("#conv-search-go")).to_have_text("Знайти")
        await assert_no_english(page)
        await page.click("#tabs button[data-status=closed]")
        await expect(page.locator("#tickets-empty")).to_have_text("Тут звернень немає.")
        await assert_no_english(page)
        assert (tmp_path / "console-uk-ticket.png").stat().st_size > 0


@pytest.mark.browser
async def test_the_language_select_switches_live_and_is_remembered(
    console_api: Api,  # noqa: F811 (the imported fixture, requested)
    browser: Browser,
) -> None:
    base = str(console_api.client.make_url("")).rstrip("/")
    async with a_console(console_api, browser, "sofia", "supervisor") as page:
        await page.goto(f"{base}/console")  # the browser speaks English
        await expect(page.locator("#login-submit")).to_have_text("Log in")
        await page.select_option("#login-lang", "uk")
        await expect(page.locator("#login-submit")).to_have_text("Увійти")
        await page.fill("#login-name", "sofia")
        await page.fill("#login-password", PASSWORD)
        await page.click("#login-submit")
        await expect(page.locator("#live")).to_have_text("наживо", timeout=LIVE)
        await expect(page.locator("#ui-lang")).to_have_value("uk")
        await page.locator("#tickets li").first.click()
        await expect(page.locator("#claim")).to_have_text("Взяти в роботу", timeout=LIVE)

        # switched live: the page's own texts and what the scripts wrote
        await page.select_option("#ui-lang", "en")
        await expect(page.locator("#claim")).to_have_text("Claim")
        await expect(page.locator("#my-status")).to_have_text("away")
        await expect(page.locator("#ticket-status")).to_have_text("queued")
        await expect(page.locator("#live")).to_have_text("live")
        await expect(page.locator("#tabs button[data-status=queued]")).to_contain_text("Queued")
        await page.select_option("#ui-lang", "uk")
        await expect(page.locator("#ticket-status")).to_have_text("у черзі")
        await expect(page.locator("#me-role")).to_have_text("керівник")

        await page.reload()  # remembered
        await expect(page.locator("#live")).to_have_text("наживо", timeout=LIVE)
        await expect(page.locator("#tabs button[data-status=queued]")).to_contain_text("У черзі")
        await assert_no_english(page)
        # the dashboard speaks the same language
        await expect(page.locator("#dashboard-link")).to_have_attribute(
            "href", "/console/dashboard?lang=uk"
        )
        await page.click("#dashboard-link")
        await expect(page.locator("h1")).to_have_text("Панель показників", timeout=LIVE)
