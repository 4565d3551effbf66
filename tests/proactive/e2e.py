"""End-to-end rig of the proactive tests: the real app (`create_app`, role "all") with Telegram,
Viber and Instagram aimed at their loopback fakes, the bot's clock pinned to the conversation
scripts' Tuesday 10 March 2026, 09:00 in Kyiv, on SQLite + memory ("embedded") or PostgreSQL +
Redis ("scaleout"). Customers talk through the signed webhooks (`tests.conversations.
cross_channel.channels.Drivers`); what the bot sends first is read from the fakes.

Fixtures (import them into a test module): `mode`, `fakes`, `shop` (and `shop_settings`, which
a module may override for settings of its own).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from bots.keys import CLOCK, DATABASE
from bots.proactive.loader import BUNDLED
from storage.db import Database
from storage.models import Message
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from tests.bots.conftest import (  # noqa: F401 (a fixture)
    IG_ACCESS_TOKEN,
    VIBER_TOKEN,
    pg_e2e_url,
)
from tests.conversations.cross_channel.channels import BotMessage, Drivers, Fakes, Identity
from tests.conversations.cross_channel.harness import channel_settings
from tests.conversations.runner import FROZEN_NOW
from tests.fakes import instagram as ig
from tests.fakes import wait_until
from tests.fakes.instagram import FakeInstagram
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.viber import FakeViber

ADMIN = "proactive-admin-token"
EVENTS = "proactive-events-token"
TURN_SECONDS = 30.0  # generous: a turn on a loaded machine, not an expectation of speed
SEND_SECONDS = 30.0


@pytest.fixture(
    params=["embedded", pytest.param("scaleout", marks=[pytest.mark.redis, pytest.mark.postgres])]
)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with AsyncExitStack() as stack:
        telegram = await stack.enter_async_context(FakeTelegram(DEFAULT_TOKEN))
        viber = await stack.enter_async_context(FakeViber(VIBER_TOKEN))
        instagram = await stack.enter_async_context(FakeInstagram(IG_ACCESS_TOKEN, ig.ACCOUNT_ID))
        yield Fakes(telegram, viber, instagram)


def settings_for(
    request: pytest.FixtureRequest, mode: str, tmp_path: Path, fakes: Fakes, **overrides: Any
) -> Settings:
    if mode == "embedded":
        path = tmp_path / "omnirelay.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        database_url, redis_url = f"sqlite+aiosqlite:///{path}", None
    else:
        database_url = str(request.getfixturevalue("pg_e2e_url"))
        redis_url = str(request.getfixturevalue("redis_url"))
    values: dict[str, Any] = {
        **channel_settings(fakes),
        "database_url": database_url,
        "redis_url": redis_url,
        "redis_prefix": f"t{uuid.uuid4().hex[:10]}",
        "nlu_model": request.getfixturevalue("nlu_model_path"),
        "nlu_review_log": None,
        "default_language": "en",
        "queue_lease_ms": 2000,
        "clock_start": FROZEN_NOW,
        "admin_token": ADMIN,
        "events_token": EVENTS,
        "scheduler_interval": 0.05,
        "outbound_rate_limits": False,
        "handoff_tick": 3600.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Shop:
    """The running app, the customers' drivers and the admin's view of it."""

    def __init__(self, client: TestClient[Any, Any], fakes: Fakes) -> None:
        self.client = client
        self.fakes = fakes
        self.drivers = Drivers(client, fakes, lambda: self.clock())

    @property
    def app(self) -> Any:
        return self.client.app

    def clock(self) -> dt.datetime:
        return self.app[CLOCK]()  # type: ignore[no-any-return]

    def advance(self, delta: dt.timedelta) -> None:
        self.app[CLOCK].advance(delta)

    def person(self, channel: str, language: str = "en", name: str = "Iryna") -> Identity:
        return self.drivers.new_identity(channel, language, name)

    # ---- a customer's turn ----------------------------------------------------------------

    async def say(self, who: Identity, text: str) -> list[BotMessage]:
        """Send ``text`` and wait until its turn is stored and answered; the answer."""
        return await self._turn(who, lambda: self.drivers.say(who, text))

    async def tap(self, who: Identity, title: str, messages: list[BotMessage]) -> list[BotMessage]:
        """Tap the last button titled ``title`` among ``messages``."""
        button = next(
            (
                b
                for m in reversed(messages)
                for b in m.buttons
                if title.lower() in b["title"].lower()
            ),
            None,
        )
        assert button is not None, f"no button {title!r} in {[m.buttons for m in messages]}"
        return await self._turn(who, lambda: self.drivers.tap(who, button))

    async def contact(self, who: Identity, phone: str) -> list[BotMessage]:
        return await self._turn(who, lambda: self.drivers.contact(who, phone))

    async def _turn(self, who: Identity, post: Any) -> list[BotMessage]:
        before = len(self.drivers.messages(who))
        posted = await post()
        db: Database = self.app[DATABASE]

        async def done() -> bool:
            async with db.session() as s:
                repo = MessageRepository(s)
                row = await repo.find_inbound(who.channel, str(posted.message_id))
                if row is None:
                    return False
                replies = await repo.replies_to(row.id)
            if any(r.status == "pending" for r in replies):
                return False
            sent = [r for r in replies if r.status == "sent"]
            return len(self.drivers.messages(who)) >= before + len(sent)

        await wait_until(done, timeout=TURN_SECONDS, what=f"the {who.channel} turn")
        return self.drivers.messages(who)[before:]

    async def book_cleaning(self, who: Identity, phone: str) -> None:
        """A teeth cleaning tomorrow (Wednesday 11.03) at 15:00, booked with the shared phone
        (which the platform vouches for: the phone is verified)."""
        asked = await self.say(who, "book a teeth cleaning tomorrow at 15:00")
        assert "phone number" in " ".join(m.text for m in asked)
        summary = await self.contact(who, phone)
        assert "Wednesday, 11.03 at 15:00" in " ".join(m.text for m in summary)
        done = await self.tap(who, "Yes, book it", summary)
        assert any("Done!" in m.text for m in done)

    # ---- what the bot sends first -----------------------------------------------------------

    async def next_message(self, who: Identity, containing: str, after: int) -> BotMessage:
        """Wait for a message to ``who`` (beyond the first ``after``) that contains the text."""

        def found() -> BotMessage | None:
            for message in self.drivers.messages(who)[after:]:
                if containing.lower() in message.text.lower():
                    return message
            return None

        message: BotMessage = await wait_until(
            found, timeout=SEND_SECONDS, what=f"{containing!r} on {who.channel}"
        )
        return message

    def count(self, who: Identity) -> int:
        return len(self.drivers.messages(who))

    # ---- the admin's view ---------------------------------------------------------------------

    async def customer_id(self, who: Identity) -> int:
        async with self.app[DATABASE].session() as s:
            found = await CustomerRepository(s).lookup(who.channel, who.external_id)
        assert found is not None, f"{who.channel}:{who.external_id} is unknown"
        return found[0].id

    async def customer_id_after(self, who: Identity, text: str) -> int:
        """Say ``text`` (the customer's first message) and return who the bot made of them."""
        await self.say(who, text)
        return await self.customer_id(who)

    async def admin(self, method: str, path: str) -> Any:
        resp = await self.client.request(method, path, headers={"Authorization": f"Bearer {ADMIN}"})
        assert resp.status == 200, (path, resp.status, await resp.text())
        return await resp.json()

    async def proactive(self, customer_id: int) -> dict[str, Any]:
        doc: dict[str, Any] = await self.admin("GET", f"/api/customers/{customer_id}/proactive")
        return doc

    async def jobs(self, customer_id: int, scenario: str | None = None) -> list[dict[str, Any]]:
        jobs = (await self.proactive(customer_id))["jobs"]
        return sorted(
            (j for j in jobs if scenario is None or j["scenario"] == scenario),
            key=lambda j: (j["due_at"], j["step"]),
        )

    async def decided(
        self, customer_id: int, scenario: str, decision: str, count: int = 1
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` jobs of the scenario ended with ``decision``; those jobs."""

        async def enough() -> list[dict[str, Any]] | None:
            jobs = [j for j in await self.jobs(customer_id, scenario) if j["decision"] == decision]
            return jobs if len(jobs) >= count else None

        found: list[dict[str, Any]] = await wait_until(
            enough, timeout=SEND_SECONDS, what=f"{count} {scenario} job(s) {decision}"
        )
        return found

    async def post_event(self, doc: Any, token: str | None = EVENTS) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = doc if isinstance(doc, str | bytes) else json.dumps(doc)
        resp = await self.client.post("/api/events", data=body, headers=headers)
        return resp.status, await resp.json()

    async def outbound_count(self) -> int:
        async with self.app[DATABASE].session() as s:
            count = await s.scalar(
                select(func.count()).select_from(Message).where(Message.direction == "out")
            )
        return int(count or 0)


@pytest.fixture
def shop_settings() -> dict[str, Any]:
    """Settings of the app under test beyond the rig's (a test module overrides this)."""
    return {}


@pytest.fixture
async def shop(
    request: pytest.FixtureRequest,
    mode: str,
    tmp_path: Path,
    fakes: Fakes,
    shop_settings: dict[str, Any],
) -> AsyncIterator[Shop]:
    settings = settings_for(request, mode, tmp_path, fakes, **shop_settings)
    db = Database(settings.database_url)
    try:
        await seed_demo(db, now=FROZEN_NOW)
    finally:
        await db.dispose()
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Shop(client, fakes)


def scenarios_with(tmp_path: Path, **extra: dict[str, Any]) -> Path:
    """The bundled scenarios file plus ``extra`` scenarios, written to a file of the test's."""
    doc = yaml.safe_load(BUNDLED.read_text("utf-8"))
    doc["scenarios"].update(extra)
    path = tmp_path / "scenarios.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path
