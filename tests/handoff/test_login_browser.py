"""The console's login form in Chromium when logins are throttled: the agent is told to wait
(how long, from `Retry-After`), not that the password is wrong."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.async_api import Browser, expect

from bots.config import Settings
from tests.handoff.test_console_browser import PASSWORD, open_console
from tests.handoff.test_login import service


@pytest.mark.browser
async def test_a_throttled_login_says_how_long_to_wait(
    handoff_settings: Callable[..., Settings], browser: Browser
) -> None:
    async with service(handoff_settings(login_delay_seconds=60)) as api:
        await api.add_agent("anna", ["general"], password=PASSWORD, online=False)
        base = str(api.client.make_url("")).rstrip("/")
        context, page, _ = await open_console(browser)
        try:
            await page.goto(f"{base}/console")
            for password, shown in (
                ("typo", "Wrong name or password."),
                ("typo again", "Wrong name or password."),
                (PASSWORD, re.compile(r"^Too many failed logins\. Try again in (5\d|60) s\.$")),
            ):
                await page.fill("#login-name", "anna")
                await page.fill("#login-password", password)
                async with page.expect_response("**/console/login"):
                    await page.click("#login-submit")
                await expect(page.locator("#login-error")).to_have_text(shown)
            await expect(page.locator("#app")).to_be_hidden()
        finally:
            await context.close()
