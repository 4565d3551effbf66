"""The real app with the simulator on, served on a loopback socket of its own (the sandbox URLs
the channels call must name the port the server listens on), both backends."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from storage.db import Database

# The settings fixtures of the service tests (both modes), shared rather than copied.
from tests.bots.conftest import (  # noqa: F401
    database_url_for,
    make_settings,
    mode,
    nlu_model_path,
    pg_e2e_url,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page


@dataclass
class Simulator:
    base_url: str
    settings: Settings
    app: web.Application
    http: aiohttp.ClientSession

    async def send(self, channel: str, person: str, **body: Any) -> dict[str, Any]:
        doc = {"person": person, "language": "en", **body}
        async with self.http.post(f"{self.base_url}/simulator/{channel}/send", json=doc) as r:
            assert r.status == 200, await r.text()
            answer: dict[str, Any] = await r.json()
            return answer

    async def replies(
        self, channel: str, person: str, count: int, *, after: int = 0
    ) -> list[dict[str, Any]]:
        """Long-poll the sandbox until `count` replies after `after` arrived (or fail)."""
        found: list[dict[str, Any]] = []
        cursor = after
        for _ in range(20):
            params = {"person": person, "language": "en", "after": str(cursor), "wait": "1"}
            async with self.http.get(
                f"{self.base_url}/simulator/{channel}/updates", params=params
            ) as r:
                assert r.status == 200
                doc = await r.json()
            found.extend(doc["replies"])
            cursor = doc["last"]
            if len(found) >= count:
                return found
        raise AssertionError(f"{len(found)}/{count} {channel} replies: {found}")


@pytest.fixture
async def simulator(
    make_settings: Callable[..., Settings],  # noqa: F811 (the imported fixture, requested)
) -> AsyncIterator[Simulator]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = make_settings(simulator=True, host="127.0.0.1", port=port)
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        async with aiohttp.ClientSession() as http:
            yield Simulator(f"http://127.0.0.1:{port}", settings, app, http)
    finally:
        await runner.cleanup()


@pytest.fixture
async def page(browser: Browser, simulator: Simulator) -> AsyncIterator[Page]:
    """The simulator page in a fresh browser context; fails on any JavaScript error."""
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(simulator.base_url + "/")
    yield page
    await context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


async def say(page: Page, channel: str, text: str) -> None:
    """Type `text` into a tab of the page and send it."""
    tab = page.locator(f"#tab-{channel}")
    await tab.locator("input.text").fill(text)
    await tab.locator("button.send").click()
