"""The app under test for the observability suite: the real app (role "all" unless a test asks
for another) with Telegram aimed at the loopback fake, on SQLite + memory ("embedded") or
PostgreSQL + Redis ("scaleout")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.app import Role, create_app
from bots.config import Settings
from bots.demo import seed_demo
from storage.db import Database
from tests.bots.conftest import (  # noqa: F401 (fixtures shared with the bots suite)
    TG_SECRET,
    Service,
    database_url_for,
    fake_telegram,
    make_settings,
    mode,
    pg_e2e_url,
)
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram

Start = Callable[..., Any]


@pytest.fixture
def start(
    make_settings: Callable[..., Settings],  # noqa: F811
    fake_telegram: FakeTelegram,  # noqa: F811
) -> Callable[..., Any]:
    """``async with start(role=..., **settings) as service``: the app, seeded, on a loopback
    port; Telegram only, no outbound rate limits (a test's retries are not slowed down)."""

    class _Started:
        def __init__(self, role: Role, overrides: dict[str, Any]) -> None:
            self.settings = make_settings(
                telegram_token=DEFAULT_TOKEN,
                telegram_webhook_secret=TG_SECRET,
                telegram_api_base=fake_telegram.base_url,
                outbound_rate_limits=False,
                **overrides,
            )
            self.role = role
            self.client: TestClient[Any, Any] | None = None

        async def __aenter__(self) -> Service:
            db = Database(self.settings.database_url)
            try:
                await seed_demo(db)
            finally:
                await db.dispose()
            self.client = TestClient(TestServer(create_app(self.settings, self.role)))
            await self.client.start_server()
            return Service(self.client, self.settings)

        async def __aexit__(self, *exc: object) -> None:
            assert self.client is not None
            await self.client.close()

    def build(role: Role = "all", **overrides: Any) -> _Started:
        return _Started(role, overrides)

    return build


@pytest.fixture
async def service(start: Start) -> AsyncIterator[Service]:
    async with start() as started:
        yield started
