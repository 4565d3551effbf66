"""The web chat under test: the real app on a loopback port (both backends through `mode`), and
a visitor: an HTTP client with its own cookie jar that posts as the widget does and reads the
event stream as a browser's EventSource does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from storage.db import Database
from tests.bots.conftest import (  # noqa: F401 (fixtures shared with the bots suite)
    database_url_for,
    make_settings,
    mode,
    pg_e2e_url,
)

KEY = "test-public-key"
ADMIN = "admin-token-for-tests"
IDENTITY_SECRET = "identity-secret-of-the-business"


class Stream:
    """One open ``GET /webchat/events``: parsed events land in ``events``."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        event: dict[str, Any] = {}
        async for raw in self.response.content:
            line = raw.decode().rstrip("\n")
            if not line:
                if "data" in event:
                    self.events.append(event)
                    self._arrived.set()
                event = {}
            elif line.startswith("id: "):
                event["id"] = line[4:]
            elif line.startswith("event: "):
                event["kind"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])

    async def wait_for(
        self, check: Callable[[list[dict[str, Any]]], bool], within: float = 20.0
    ) -> list[dict[str, Any]]:
        async with asyncio.timeout(within):
            while not check(self.events):
                self._arrived.clear()
                await self._arrived.wait()
        return self.events

    def texts(self, kind: str = "message") -> list[str]:
        return [e["data"]["text"] for e in self.events if e.get("kind") == kind]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        self.response.close()


class Visitor:
    """A browser's view of the web chat: its own cookies, the widget's calls."""

    def __init__(self, base: str, origin: str | None = None) -> None:
        self.base = base
        self.origin = origin or base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Origin": self.origin, **extra}

    async def post(self, path: str, body: Any, **headers: str) -> aiohttp.ClientResponse:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = self.headers(**{"Content-Type": "application/json", **headers})
        async with self.http.post(self.base + path, data=data, headers=hdrs) as resp:
            await resp.read()
            return resp

    async def start(self, **identity: str) -> aiohttp.ClientResponse:
        resp = await self.post("/webchat/session", {"key": KEY, **identity})
        assert resp.status == 200, resp.status
        return resp

    async def say(self, text: str | None = None, **body: Any) -> dict[str, Any]:
        doc = {"key": KEY, "id": uuid.uuid4().hex[:16], **body}
        if text is not None:
            doc["text"] = text
        async with self.http.post(
            self.base + "/webchat/messages", json=doc, headers=self.headers()
        ) as resp:
            assert resp.status == 202, await resp.text()
            answer: dict[str, Any] = await resp.json()
            return answer

    async def stream(self, last_event_id: str | None = None) -> Stream:
        headers = self.headers()
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        resp = await self.http.get(
            f"{self.base}/webchat/events?key={KEY}",
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        )
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        return Stream(resp)

    async def close(self) -> None:
        await self.http.close()


class Service:
    def __init__(self, server: TestServer, settings: Settings) -> None:
        self.server = server
        self.settings = settings
        self.base = str(server.make_url("")).rstrip("/")
        self.visitors: list[Visitor] = []

    def visitor(self, origin: str | None = None) -> Visitor:
        visitor = Visitor(self.base, origin)
        self.visitors.append(visitor)
        return visitor

    async def api(self, method: str, path: str, token: str = ADMIN, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                method,
                self.base + path,
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as resp,
        ):
            text = await resp.text()
            assert 200 <= resp.status < 300, (method, path, resp.status, text)
            return json.loads(text) if text else None


def webchat_values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "webchat_public_key": KEY,
        "webchat_cookie_secret": "cookie-secret-for-tests",
        "webchat_identity_secret": IDENTITY_SECRET,
        "webchat_allowed_origins": ["https://shop.example.com"],
        "admin_token": ADMIN,
        "handoff_tick": 3600.0,
        "outbound_rate_limits": False,
        "simulator": False,
        "telegram_bot_username": "omnirelay_test_bot",  # "continue in Telegram" is offered
    }
    values.update(overrides)
    return values


async def seeded(settings: Settings) -> Settings:
    """``settings``, with the demo business in its database."""
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    return settings


@contextlib.asynccontextmanager
async def running(settings: Settings, role: str = "all") -> AsyncIterator[Service]:
    server = TestServer(create_app(settings, role=role), host="127.0.0.1")  # type: ignore[arg-type]
    await server.start_server()
    service = Service(server, settings)
    try:
        yield service
    finally:
        for visitor in service.visitors:
            await visitor.close()
        await server.close()


@pytest.fixture
async def webchat(make_settings: Callable[..., Settings]) -> AsyncIterator[Service]:  # noqa: F811
    """The whole service with the web chat on, on a real port (both backends)."""
    settings = await seeded(make_settings(**webchat_values()))
    async with running(settings) as service:
        yield service


class Proxy:
    """A TCP relay in front of the service, so a test can cut the browser's connections (its
    event stream) as a dead network would, and refuse new ones until `restore`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refusing = False
        self._pipes: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._pipes |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            self._pipes.discard(writer)
            writer.transport.abort()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self.refusing = True
        for writer in list(self._pipes):
            writer.transport.abort()

    def restore(self) -> None:
        self.refusing = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
