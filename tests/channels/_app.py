"""The real gateway (`create_app(settings, role="gateway")`) for the edge tests: every channel
on, SQLite, memory or a given Redis. No worker runs, so what a webhook accepts stays queued,
where a test can count it."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from bots.keys import BACKENDS
from tests.bots.conftest import IG_APP_SECRET, TG_SECRET, VIBER_TOKEN
from tests.fakes import instagram as ig
from tests.fakes import viber as vb
from tests.fakes.telegram import DEFAULT_TOKEN

REST_TOKEN = "rest-token-for-the-edge-tests"


def gateway_settings(
    sqlite_template: Path, tmp_path: Path, telegram_api: str, **overrides: Any
) -> Settings:
    db = tmp_path / f"edge-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(sqlite_template, db)
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{db}",
        "redis_url": None,
        "redis_prefix": f"t{uuid.uuid4().hex[:10]}",
        "telegram_token": DEFAULT_TOKEN,
        "telegram_webhook_secret": TG_SECRET,
        "telegram_api_base": telegram_api,
        "viber_token": VIBER_TOKEN,
        "viber_api_base": "http://127.0.0.1:9/pa",  # the gateway never calls Viber
        "instagram_app_secret": IG_APP_SECRET,
        "instagram_verify_token": "verify",
        "instagram_access_token": "token",
        "instagram_account_id": ig.ACCOUNT_ID,
        "instagram_api_base": "http://127.0.0.1:9/v21.0",
        "rest_token": REST_TOKEN,
        "rest_reply_timeout": 0.05,  # no worker: an accepted REST message times out (504)
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def gateway(
    settings: Settings, *middlewares: Any
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The gateway app under a test client; `middlewares` run inside the app's own."""
    app = create_app(settings, role="gateway")
    app.middlewares.extend(middlewares)
    async with TestClient(TestServer(app)) as client:
        yield client


async def queued(client: TestClient[web.Request, web.Application]) -> int:
    """Messages waiting in the gateway's queue."""
    return await client.app[BACKENDS].queue.depth()


def signed(channel: str, body: bytes) -> tuple[str, dict[str, str]]:
    """The path and headers that make `body` a correctly signed webhook of `channel`."""
    if channel == "telegram":
        return "/webhooks/telegram", {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    if channel == "viber":
        sig = vb.signature(VIBER_TOKEN, body)
        return "/webhooks/viber", {"X-Viber-Content-Signature": sig}
    if channel == "instagram":
        digest = hmac.new(IG_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return "/webhooks/instagram", {"X-Hub-Signature-256": f"sha256={digest}"}
    return "/webhooks/rest", {"Authorization": f"Bearer {REST_TOKEN}"}
