"""Fixtures of the identity suite: a database + backends pair per mode (embedded: SQLite and
memory; scaleout: PostgreSQL and Redis), and the whole app with all three channels, the
"continue in ..." addresses and an admin token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from bots.identity.service import IdentityService, LinkSettings
from storage.backends import Backends, open_backends
from storage.db import Database
from tests.bots import conftest as _bots
from tests.bots.conftest import Service, channel_settings
from tests.fakes.instagram import FakeInstagram
from tests.fakes.telegram import FakeTelegram
from tests.fakes.viber import FakeViber

# the end-to-end fixtures of tests/bots, shared with this suite
nlu_model_path = _bots.nlu_model_path
pg_e2e_url = _bots.pg_e2e_url
mode = _bots.mode
database_url_for = _bots.database_url_for
make_settings = _bots.make_settings
fake_telegram = _bots.fake_telegram
fake_viber = _bots.fake_viber
fake_instagram = _bots.fake_instagram

ADMIN_TOKEN = "admin-token-for-tests"
BOT_USERNAME = "omnirelay_test_bot"


@dataclass
class Stack:
    db: Database
    backends: Backends
    identity: IdentityService


@pytest.fixture
async def stack(
    mode: str,
    database_url_for: Callable[[str], str],
    request: pytest.FixtureRequest,
    key_prefix: str,
) -> AsyncIterator[Stack]:
    """A migrated database and the session/lock backends of one mode, with the service."""
    url = database_url_for(mode)
    redis_url = None
    if mode == "scaleout":
        redis_url = request.getfixturevalue("redis_url")
        request.getfixturevalue("_redis_cleanup")
    db = Database(url)
    backends = await open_backends(redis_url, keys_prefix=key_prefix)
    service = IdentityService(
        db, backends, lock_timeout=5, links=LinkSettings(BOT_USERNAME, "omnirelay", "omnirelay")
    )
    try:
        yield Stack(db, backends, service)
    finally:
        await backends.close()
        await db.dispose()


@pytest.fixture
async def app_service(
    make_settings: Callable[..., Settings],
    fake_telegram: FakeTelegram,
    fake_viber: FakeViber,
    fake_instagram: FakeInstagram,
) -> AsyncIterator[Service]:
    """The real app on a loopback port, every channel aimed at its fake."""
    settings = make_settings(
        **channel_settings(fake_telegram, fake_viber, fake_instagram),
        admin_token=ADMIN_TOKEN,
        telegram_bot_username=BOT_USERNAME,
        viber_chat_uri="omnirelay",
        instagram_username="omnirelay",
    )
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        yield Service(client, settings)
