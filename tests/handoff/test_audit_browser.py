"""The audit log page in a real browser (Debian's Chromium driven by Playwright against the
whole service on a loopback port): an admin sees the entries newest first and filters them by
action and actor, a stored script-looking value stays text; an agent gets a 403."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.async_api import Browser, expect

from storage.audit import audit
from storage.db import Database
from tests.handoff.conftest import Api
from tests.handoff.test_console_browser import (  # noqa: F401 (the fixture)
    LIVE,
    console_api,
    log_in,
    open_console,
)

PASSWORD = "correct horse battery staple"
PAYLOAD = "<img src=x onerror=\"document.title='pwned'\">"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


async def seed(api: Api) -> None:
    db = Database(api.settings.database_url)
    try:
        for i in range(3):
            await audit(
                db,
                actor="admin-token",
                role="admin",
                action="transcript.viewed",
                target_type="customer",
                target_id=100 + i,
                ip="10.0.0.7",
                detail={"entries": i},
                at=T0 + dt.timedelta(minutes=i),
            )
        await audit(
            db,
            actor="agent:5",
            role="admin",
            action="customer.merged",
            target_type="customer",
            target_id=PAYLOAD,
            detail={"absorbed": 7, "merge_id": 1, "note_id": PAYLOAD},
            at=T0 + dt.timedelta(minutes=5),
        )
    finally:
        await db.dispose()


@pytest.mark.browser
async def test_an_admin_reads_and_filters_the_audit_log(
    console_api: Api,  # noqa: F811
    browser: Browser,
) -> None:
    api = console_api
    await api.add_agent("root", ["general"], role="admin", password=PASSWORD, online=False)
    await seed(api)
    base = str(api.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    try:
        await log_in(page, base, "root", PASSWORD)
        # the console's header links an admin to it
        await expect(page.locator("#audit-link")).to_be_visible(timeout=LIVE)
        await page.click("#audit-link")
        await page.wait_for_url(f"{base}/console/audit?lang=en")  # the console's language
        await expect(page.locator("h1")).to_have_text("Audit log")
        rows = page.locator("#entries tbody tr")
        merged = page.locator("#entries tbody tr[data-action='customer.merged']")
        await expect(merged).to_have_count(1, timeout=LIVE)
        # the payload is shown as the text it is, nothing of it runs or becomes an element
        await expect(merged.locator("td").nth(4)).to_have_text(f"customer {PAYLOAD}")
        await expect(merged.locator("td.detail")).to_contain_text("onerror")
        assert await page.locator("#entries img").count() == 0
        assert await page.title() == "omnirelay — audit log"

        await page.select_option("#f-action", "transcript.viewed")
        await page.click("#f-apply")
        await expect(rows).to_have_count(3, timeout=LIVE)
        await expect(
            page.locator("#entries tbody tr[data-action='transcript.viewed']")
        ).to_have_count(3)
        await expect(rows.first.locator("td.actor")).to_have_text("admin-token")
        await expect(rows.first.locator("td.detail")).to_have_text('{"entries":2}')
        await expect(page.locator("#status")).to_have_text("3 entries")

        await page.fill("#f-actor", "agent:5")
        await page.select_option("#f-action", "")
        await page.click("#f-apply")
        await expect(rows).to_have_count(1, timeout=LIVE)
        await expect(rows.first).to_have_attribute("data-action", "customer.merged")
        await expect(page.locator("#more")).to_be_hidden()

        # in Ukrainian, switched live; the entries stay as recorded
        await page.select_option("#ui-lang", "uk")
        await expect(page.locator("h1")).to_have_text("Журнал аудиту")
        await expect(page.locator("#status")).to_have_text("1 запис")
        await expect(page.locator("#entries thead")).to_contain_text("Коли")
        await expect(page.locator("#f-apply")).to_have_text("Показати")
        await expect(rows.first.locator("td.action")).to_have_text("customer.merged")
        assert await page.title() == "omnirelay — журнал аудиту"
    finally:
        await context.close()
    assert errors.errors == []


@pytest.mark.browser
async def test_an_agent_gets_no_audit_log(
    console_api: Api,  # noqa: F811
    browser: Browser,
) -> None:
    api = console_api
    await api.add_agent("anna", ["general"], ["en"], password=PASSWORD, online=False)
    await seed(api)
    base = str(api.client.make_url("")).rstrip("/")
    context, page, errors = await open_console(browser)
    try:
        await log_in(page, base, "anna", PASSWORD)
        await expect(page.locator("#me-role")).to_have_text("agent", timeout=LIVE)
        await expect(page.locator("#audit-link")).to_be_hidden()
        answer = await page.goto(f"{base}/console/audit")
        assert answer is not None and answer.status == 403
        await expect(page.locator("h1")).to_have_text("The audit log is for admins")
        assert await page.locator("#entries").count() == 0
        refused = await page.request.get(f"{base}/api/audit")
        assert refused.status == 403
        assert "customer.merged" not in await refused.text()
    finally:
        await context.close()
    assert [e for e in errors.errors if "403" not in e] == []
    anonymous = await api.client.get("/console/audit", allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"] == "/console"
