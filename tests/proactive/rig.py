"""A proactive scheduler with its real outbox and channels aimed at the loopback fake platforms,
on one of the two backend pairs: SQLite + memory ("embedded") or PostgreSQL + Redis
("scaleout"). Several schedulers on one database stand for several worker processes: each has
its own engine, outbox and owner.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bots.channels.base import Channel
from bots.channels.registry import build_channels
from bots.config import Settings
from bots.flows.clock import Clock
from bots.metrics import Metrics
from bots.proactive import Scenarios, load_scenarios, trigger
from bots.proactive.scheduler import Scheduler
from bots.worker.outbox import Outbox
from storage.backends import Backends, open_backends
from storage.db import Database
from storage.models import ChannelIdentity, Customer, Message
from storage.proactive_models import ProactiveDecision, ProactiveJob
from tests.bots.conftest import IG_ACCESS_TOKEN, VIBER_TOKEN, channel_settings
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.fakes import instagram as ig
from tests.fakes.instagram import FakeInstagram
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.viber import FakeViber

#: 12:00 in Kyiv on a Sunday: outside the bundled quiet hours (21:00-09:00)
START = dt.datetime(2026, 12, 20, 10, 0, tzinfo=dt.UTC)


@dataclass
class Fakes:
    telegram: FakeTelegram
    viber: FakeViber
    instagram: FakeInstagram


@dataclass
class Node:
    """One "process": its database engine, channels, outbox and scheduler."""

    db: Database
    channels: dict[str, Channel]
    outbox: Outbox
    scheduler: Scheduler


@dataclass
class Rig:
    mode: str
    url: str
    settings: Settings
    clock: Clock
    scenarios: Scenarios
    backends: Backends
    fakes: Fakes
    nodes: list[Node] = field(default_factory=list)

    @property
    def db(self) -> Database:
        return self.nodes[0].db

    @property
    def scheduler(self) -> Scheduler:
        return self.nodes[0].scheduler

    async def node(self, **scheduler_options: Any) -> Node:
        """Another "process" on the same database."""
        db = Database(self.url)
        channels = build_channels(
            self.settings,
            mailbox=lambda: self.backends.mailbox,
            register_webhooks=False,
            clock=self.clock,
        )
        for channel in channels.values():
            await channel.start()
        outbox = Outbox(db, channels, Metrics(), lease=30.0)
        options: dict[str, Any] = {"lease": 1.0, "batch": 50, **scheduler_options}
        scheduler = Scheduler(
            db=db,
            scenarios=self.scenarios,
            outbox=outbox,
            clock=self.clock,
            channels=tuple(channels),
            timezone=self.settings.timezone,
            default_language="en",
            backends=self.backends,
            **options,
        )
        node = Node(db, channels, outbox, scheduler)
        self.nodes.append(node)
        return node

    async def close(self) -> None:
        for node in self.nodes:
            await node.outbox.drain(2.0)
            for channel in node.channels.values():
                await channel.close()
            await node.db.dispose()
        await self.backends.close()

    # ---- data --------------------------------------------------------------------------------

    async def customer(
        self,
        *,
        telegram: int | None = None,
        viber: str | None = None,
        instagram: str | None = None,
        last_channel: str | None = None,
        last_inbound: dt.datetime | None = None,
        language: str = "en",
        timezone: str | None = None,
        unreachable: tuple[str, ...] = (),
    ) -> int:
        """A customer with identities on the given channels (last heard from ``last_inbound``,
        default: an hour ago on the rig's clock)."""
        heard = last_inbound or self.clock() - dt.timedelta(hours=1)
        ids = {"telegram": telegram, "viber": viber, "instagram": instagram}
        async with self.db.transaction() as s:
            c = Customer(
                display_name="Olena",
                language=language,
                timezone=timezone,
                last_channel=last_channel or next((k for k, v in ids.items() if v), None),
                created_at=self.clock(),
            )
            s.add(c)
            await s.flush()
            for channel, external in ids.items():
                if external is None:
                    continue
                s.add(
                    ChannelIdentity(
                        customer_id=c.id,
                        channel=channel,
                        external_id=str(external),
                        reachable=channel not in unreachable,
                        last_inbound_at=heard,
                        created_at=heard,
                    )
                )
            return c.id

    async def trigger(
        self,
        name: str,
        customer_id: int,
        *,
        occurrence: str | None = None,
        anchor: dt.datetime | None = None,
        variables: dict[str, Any] | None = None,
    ) -> int:
        async with self.db.transaction() as s:
            return await trigger(
                s,
                self.scenarios,
                name,
                customer_id=customer_id,
                occurrence=occurrence or uuid.uuid4().hex,
                anchor=anchor or self.clock(),
                variables=variables or {},
                now=self.clock(),
            )

    async def jobs(self, customer_id: int | None = None) -> list[ProactiveJob]:
        stmt = select(ProactiveJob).order_by(ProactiveJob.id)
        if customer_id is not None:
            stmt = stmt.where(ProactiveJob.customer_id == customer_id)
        async with self.db.session() as s:
            return list(await s.scalars(stmt))

    async def decisions(self, customer_id: int | None = None) -> list[ProactiveDecision]:
        stmt = select(ProactiveDecision).order_by(ProactiveDecision.id)
        if customer_id is not None:
            stmt = stmt.where(ProactiveDecision.customer_id == customer_id)
        async with self.db.session() as s:
            return list(await s.scalars(stmt))

    async def outbound(self, customer_id: int) -> list[Message]:
        async with self.db.session() as s:
            return list(
                await s.scalars(
                    select(Message)
                    .where(Message.customer_id == customer_id, Message.direction == "out")
                    .order_by(Message.id)
                )
            )

    async def decided(self, count: int, customer_id: int | None = None) -> list[Any]:
        """Wait until ``count`` decisions are recorded (ticking this rig's first scheduler)."""

        async def enough() -> list[Any] | None:
            await self.scheduler.tick()
            rows = await self.decisions(customer_id)
            return rows if len(rows) >= count else None

        from tests.fakes import wait_until

        found: list[Any] = await wait_until(enough, timeout=20, what=f"{count} decisions")
        return found


def telegram_texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [str(m.get("text")) for m in fake.sent_messages(chat_id)]


def new_chat() -> int:
    return 10_000_000 + uuid.uuid4().int % 1_000_000_000


@pytest.fixture(
    params=["embedded", pytest.param("scaleout", marks=[pytest.mark.redis, pytest.mark.postgres])]
)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(mode, database URL): a migrated SQLite copy, or a throw-away PostgreSQL database."""
    if request.param == "embedded":
        path = tmp_path / "omnirelay.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield "embedded", f"sqlite+aiosqlite:///{path}"
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    name, url = fresh_postgres_database(postgres_url, request.getfixturevalue("_postgres_template"))
    try:
        yield "scaleout", url
    finally:
        drop_postgres_database(postgres_url, name)


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with (
        FakeTelegram(DEFAULT_TOKEN) as tg,
        FakeViber(VIBER_TOKEN) as vb,
        FakeInstagram(IG_ACCESS_TOKEN, ig.ACCOUNT_ID) as insta,
    ):
        yield Fakes(tg, vb, insta)


@pytest.fixture
async def make_rig(
    backend_url: tuple[str, str], fakes: Fakes, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Any]]:
    """Builds a rig (its first node included) on this test's backend; closed afterwards."""
    mode, url = backend_url
    opened: list[Rig] = []

    async def build(scenarios: Scenarios | None = None, **options: Any) -> Rig:
        redis_url = request.getfixturevalue("redis_url") if mode == "scaleout" else None
        prefix = request.getfixturevalue("key_prefix")
        if redis_url is not None:
            request.getfixturevalue("_redis_cleanup")
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            redis_url=redis_url,
            **channel_settings(fakes.telegram, fakes.viber, fakes.instagram),
        )
        backends = await open_backends(redis_url, keys_prefix=prefix)
        rig = Rig(mode, url, settings, Clock(START), scenarios or load_scenarios(), backends, fakes)
        opened.append(rig)
        await rig.node(**options)
        return rig

    try:
        yield build
    finally:
        for built in opened:
            await built.close()


@pytest.fixture
async def rig(make_rig: Callable[..., Any]) -> Rig:
    built: Rig = await make_rig()
    return built
