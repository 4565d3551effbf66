"""A restart of one process given no cookie secret keeps its web chat visitors (trial 3, T9):
the secret is made once and kept beside the SQLite database (`bots.channels.webchat_secret`).
With Redis (several gateways) a missing secret is refused at start, as before."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import make_url, select

from bots.app import create_app
from bots.channels.webchat_secret import kept_secret, secret_file
from bots.config import Settings
from storage.db import Database
from storage.models import Message
from tests.webchat.conftest import running, seeded, webchat_values


async def _customers(settings: Settings) -> set[int | None]:
    db = Database(settings.database_url)
    try:
        async with db.session() as s:
            rows = await s.scalars(
                select(Message.customer_id).where(
                    Message.channel == "webchat", Message.direction == "in"
                )
            )
            return set(rows)
    finally:
        await db.dispose()


async def test_a_visitor_is_the_same_visitor_after_a_restart(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(**webchat_values(webchat_cookie_secret=None))
    if settings.scale_out:
        with pytest.raises(ValueError, match="OMNIRELAY_WEBCHAT_COOKIE_SECRET"):
            create_app(settings)
        return
    settings = await seeded(settings)
    async with running(settings) as first:
        visitor = first.visitor()
        await visitor.start()
        await visitor.say("hello")
        jar = visitor.http.cookie_jar  # the browser's cookies outlive the process
    async with running(settings) as second:
        again = second.visitor()
        await again.http.close()
        again.http = aiohttp.ClientSession(cookie_jar=jar)
        answer = await again.say("where is my order A1001")  # 202, not 401
        assert answer["status"] == "accepted"
    assert len(await _customers(settings)) == 1
    path = secret_file(settings.database_url)
    assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_secret_is_made_once_and_read_after(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'omnirelay.db'}"
    first = kept_secret(url)
    assert first is not None and len(first) == 64
    assert kept_secret(url) == first
    assert secret_file(url) == tmp_path / "omnirelay.db.webchat-secret"
    assert kept_secret("sqlite+aiosqlite:///:memory:") is None
    assert kept_secret("postgresql+asyncpg://u@h/db") is None
    (tmp_path / "omnirelay.db.webchat-secret").write_text("short\n")
    assert kept_secret(url) is None  # not a secret: one per process, with a warning
    assert make_url(url).database is not None
