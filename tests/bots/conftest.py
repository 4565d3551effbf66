"""Fixtures for end-to-end tests of the running service: the real app on a loopback port,
the real aiogram client aimed at the fake Bot API, both backends.

`mode` runs a test twice: `embedded` (SQLite file + in-process memory) and `scaleout`
(a throw-away PostgreSQL database + Redis with a random key prefix).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from storage.db import Database
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.fakes import instagram as ig
from tests.fakes import viber as vb
from tests.fakes.instagram import FakeInstagram
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.viber import FakeViber

TG_SECRET = "test-secret_token-1"
VIBER_TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec2ca9b6fd6d28"
IG_APP_SECRET = "test-app-secret-0123456789abcdef"
IG_VERIFY_TOKEN = "test-verify-token"
IG_ACCESS_TOKEN = "IGQVJtest-access-token"


@pytest.fixture(scope="session")
def nlu_model_path(nlu_model_path: Path) -> Path:
    """The model of tests/conftest.py, passed through (never trained here): kept only for the
    conftests that still import this name from here; request the fixture instead."""
    return nlu_model_path


@pytest.fixture
def pg_e2e_url(postgres_url: str, _postgres_template: str) -> Iterator[str]:
    """A migrated throw-away PostgreSQL database of this test's own (a template copy)."""
    name, url = fresh_postgres_database(postgres_url, _postgres_template)
    try:
        yield url
    finally:
        drop_postgres_database(postgres_url, name)


@pytest.fixture(
    params=["embedded", pytest.param("scaleout", marks=[pytest.mark.redis, pytest.mark.postgres])]
)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url_for(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], str]:
    def pick(mode: str) -> str:
        if mode == "embedded":
            path = tmp_path / "omnirelay.db"
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
            return f"sqlite+aiosqlite:///{path}"
        return str(request.getfixturevalue("pg_e2e_url"))

    return pick


@pytest.fixture
def make_settings(
    mode: str,
    database_url_for: Callable[[str], str],
    nlu_model_path: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Callable[..., Settings]:
    db_url = database_url_for(mode)
    redis_url = request.getfixturevalue("redis_url") if mode == "scaleout" else None
    prefix = f"t{uuid.uuid4().hex[:10]}"

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": db_url,
            "redis_url": redis_url,
            "redis_prefix": prefix,
            "nlu_model": nlu_model_path,
            "nlu_review_log": tmp_path / "review.jsonl",
            "rest_reply_timeout": 10.0,
            "default_language": "en",
            "queue_lease_ms": 2000,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


class Service:
    """The app under test plus the client that talks to it."""

    def __init__(self, client: TestClient[web.Request, web.Application], settings: Settings):
        self.client = client
        self.settings = settings

    @property
    def app(self) -> web.Application:
        return self.client.app

    async def telegram(self, update: dict[str, Any], secret: str | None = TG_SECRET) -> Any:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.client.post("/webhooks/telegram", json=update, headers=headers)

    async def viber(self, doc: dict[str, Any], token: str = VIBER_TOKEN) -> Any:
        """POST a Viber callback signed (header and `?sig=`) with `token`."""
        signed = vb.sign_callback(token, doc)
        return await self.client.post(
            "/webhooks/viber" + signed.query, data=signed.body, headers=signed.headers
        )

    async def instagram(self, doc: dict[str, Any], app_secret: str = IG_APP_SECRET) -> Any:
        """POST an Instagram webhook body, serialised and signed the way Meta does."""
        signed = ig.sign(app_secret, doc)
        return await self.client.post(
            "/webhooks/instagram", data=signed.body, headers=signed.headers
        )

    async def rest(self, sender: str, text: str | None = None, **extra: Any) -> Any:
        body: dict[str, Any] = {"sender": sender, **extra}
        if text is not None:
            body["text"] = text
        return await self.client.post("/webhooks/rest", json=body)


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(DEFAULT_TOKEN) as fake:
        yield fake


@pytest.fixture
async def fake_viber() -> AsyncIterator[FakeViber]:
    async with FakeViber(VIBER_TOKEN) as fake:
        yield fake


@pytest.fixture
async def fake_instagram() -> AsyncIterator[FakeInstagram]:
    async with FakeInstagram(IG_ACCESS_TOKEN, ig.ACCOUNT_ID) as fake:
        yield fake


def channel_settings(
    telegram: FakeTelegram, viber: FakeViber, instagram: FakeInstagram
) -> dict[str, Any]:
    """Settings that switch on all three platform channels, each aimed at its fake."""
    return {
        "telegram_token": DEFAULT_TOKEN,
        "telegram_webhook_secret": TG_SECRET,
        "telegram_api_base": telegram.base_url,
        "viber_token": VIBER_TOKEN,
        "viber_api_base": viber.base_url,
        "instagram_app_secret": IG_APP_SECRET,
        "instagram_verify_token": IG_VERIFY_TOKEN,
        "instagram_access_token": IG_ACCESS_TOKEN,
        "instagram_account_id": ig.ACCOUNT_ID,
        "instagram_api_base": instagram.base_url,
    }


@pytest.fixture
async def service(
    make_settings: Callable[..., Settings],
    fake_telegram: FakeTelegram,
    fake_viber: FakeViber,
    fake_instagram: FakeInstagram,
) -> AsyncIterator[Service]:
    """The app with all three platform channels, each aimed at its loopback fake."""
    settings = make_settings(**channel_settings(fake_telegram, fake_viber, fake_instagram))
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        yield Service(client, settings)


def new_chat_id() -> int:
    """Random private-chat ids keep tests apart in a shared database."""
    return 10_000_000 + uuid.uuid4().int % 1_000_000_000


def new_update_id() -> int:
    return uuid.uuid4().int % 2_000_000_000
