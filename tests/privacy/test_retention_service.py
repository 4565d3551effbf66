"""The retention job inside the running service, as `omnirelay run` and `omnirelay worker` add it
(`bots.cli._serve`): with the clock pinned and an age set, the service clears what is due on
its own, audited as the system's, and keeps what is held.
Embedded on SQLite, and scale-out on PostgreSQL + Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bots.app import create_app
from bots.config import Settings
from bots.privacy.retention import retention_task
from storage.audit import AuditEntry
from storage.db import Database
from storage.models import Message
from tests.fakes import wait_until
from tests.handoff import conftest as handoff_suite
from tests.privacy.test_retention import T0, seed

# the handoff suite's settings (embedded on SQLite, scale-out on PostgreSQL + Redis)
handoff_settings, make_settings = handoff_suite.handoff_settings, handoff_suite.make_settings
fake_telegram, mode, pg_e2e_url = (
    handoff_suite.fake_telegram,
    handoff_suite.mode,
    handoff_suite.pg_e2e_url,
)
database_url_for = handoff_suite.database_url_for


async def purged(db: Database) -> list[Any]:
    async with db.session() as s:
        stmt = select(AuditEntry).where(AuditEntry.action == "retention.purged")
        return list(await s.scalars(stmt))


async def old_texts(db: Database) -> int:
    async with db.session() as s:
        stmt = select(func.count()).where(Message.text.like("old %"))
        return int(await s.scalar(stmt) or 0)


async def serve_once(settings: Settings, until: Callable[[], Any]) -> None:
    app = create_app(settings, "all" if settings.redis_url is None else "worker")
    app.cleanup_ctx.append(retention_task)  # what bots.cli._serve adds for run and worker
    async with TestClient(TestServer(app)):
        await until()


async def test_the_service_runs_retention_by_itself(
    handoff_settings: Callable[..., Settings],
) -> None:
    settings = handoff_settings(clock_start=T0, retention_transcripts_days=30)
    db = Database(settings.database_url)
    try:
        await seed(db)
        assert await old_texts(db) == 3

        async def cleared() -> None:
            await wait_until(lambda: purged(db), timeout=30, what="a retention run")

        await serve_once(settings, cleared)
        [entry] = await purged(db)
        assert (entry.actor, entry.detail) == ("system", {"messages_rows": 1})
        assert await old_texts(db) == 2  # the held customer's and the held ticket's stay
    finally:
        await db.dispose()
