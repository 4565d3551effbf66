"""Fixtures of the handoff suite: the real app (REST + Telegram channels aimed at the fake Bot
API) on both backends, and a small client for the agent API over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import handoff.models  # noqa: F401 (the handoff tables on the shared metadata)
from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from storage.db import Database
from tests.bots.conftest import (  # noqa: F401 (fixtures shared with the bots suite)
    TG_SECRET,
    database_url_for,
    fake_telegram,
    make_settings,
    mode,
    pg_e2e_url,
)
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram

ADMIN = "admin-token-for-tests"


class Api:
    """The service under test: customers through the channels, agents through /api."""

    def __init__(self, client: TestClient[web.Request, web.Application], settings: Settings):
        self.client = client
        self.settings = settings

    async def call(
        self, method: str, path: str, token: str | None = ADMIN, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = await self.client.request(method, path, json=body, headers=headers)
        text = await resp.text()
        return resp.status, (json.loads(text) if text else None)

    async def ok(self, method: str, path: str, token: str | None = ADMIN, body: Any = None) -> Any:
        status, doc = await self.call(method, path, token, body)
        assert 200 <= status < 300, (method, path, status, doc)
        return doc

    async def add_agent(
        self,
        name: str,
        skills: list[str],
        languages: list[str] | None = None,
        *,
        role: str = "agent",
        max_tickets: int = 3,
        password: str | None = None,
        online: bool = True,
    ) -> tuple[int, str]:
        body: dict[str, Any] = {
            "name": name,
            "skills": skills,
            "languages": languages or ["en", "uk"],
            "role": role,
            "max_tickets": max_tickets,
        }
        if password:
            body["password"] = password
        doc = await self.ok("POST", "/api/agents", ADMIN, body)
        if online:
            await self.ok("POST", "/api/me/status", doc["token"], {"status": "online"})
        return int(doc["id"]), str(doc["token"])

    async def rest(self, sender: str, text: str | None = None, **extra: Any) -> list[Any]:
        body: dict[str, Any] = {"sender": sender, **extra}
        if text is not None:
            body["text"] = text
        resp = await self.client.post("/webhooks/rest", json=body)
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["replies"])

    async def telegram(self, update: dict[str, Any]) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        resp = await self.client.post("/webhooks/telegram", json=update, headers=headers)
        assert resp.status == 200, await resp.text()

    async def tickets(self, token: str = ADMIN, status: str | None = None) -> list[Any]:
        path = "/api/tickets" + (f"?status={status}" if status else "")
        return list((await self.ok("GET", path, token))["tickets"])


@pytest.fixture
def handoff_settings(
    make_settings: Callable[..., Settings],  # noqa: F811
    fake_telegram: FakeTelegram,  # noqa: F811
) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "telegram_token": DEFAULT_TOKEN,
            "telegram_webhook_secret": TG_SECRET,
            "telegram_api_base": fake_telegram.base_url,
            "admin_token": ADMIN,
            "handoff_tick": 3600.0,  # tests drive routing themselves
            "outbound_rate_limits": False,
        }
        values.update(overrides)
        return make_settings(**values)

    return build


@pytest.fixture
async def api(handoff_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    settings = handoff_settings()
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Api(client, settings)


@contextlib.asynccontextmanager
async def sse_events(
    client: TestClient[web.Request, web.Application], token: str
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """Open `GET /api/events` for the block; events are parsed into the yielded queue by a
    background reader, which is stopped and the stream closed on the way out."""
    resp = await client.get("/api/events", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def read() -> None:
        event: dict[str, Any] = {}
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if not line:
                if "data" in event:
                    queue.put_nowait(event)
                event = {}
            elif line.startswith("event: "):
                event["kind"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])

    task = asyncio.create_task(read())
    await asyncio.sleep(0)
    try:
        yield queue
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        resp.close()


async def next_event(
    queue: asyncio.Queue[dict[str, Any]], kind: str, within: float = 10.0
) -> dict[str, Any]:
    """The next event of `kind` (others are skipped), with a deadline."""
    async with asyncio.timeout(within):
        while True:
            event = await queue.get()
            if event.get("kind") == kind:
                return event
