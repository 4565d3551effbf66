"""Shared fixtures for channel tests: a recording ingress and the fake Telegram server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bots.channels.base import IngestResult
from bots.channels.telegram import TelegramChannel
from bots.messages import ChannelEvent, InboundEvent, InboundMessage
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram

SECRET = "s3cret_Token-42"


class RecordingIngress:
    """A real, tiny Ingress: drops duplicates by `dedup_key` (like the gateway), keeps the rest
    in order."""

    def __init__(self) -> None:
        self.events: list[InboundEvent] = []  # everything accepted
        self.duplicates = 0
        self._seen: set[str] = set()

    async def accept(self, events: Sequence[InboundEvent]) -> IngestResult:
        accepted = duplicates = 0
        for event in events:
            if event.dedup_key in self._seen:
                duplicates += 1
                continue
            self._seen.add(event.dedup_key)
            self.events.append(event)
            accepted += 1
        self.duplicates += duplicates
        return IngestResult(accepted=accepted, duplicates=duplicates)

    @property
    def accepted(self) -> list[InboundEvent]:
        return self.events

    @property
    def messages(self) -> list[InboundMessage]:
        return [e for e in self.events if isinstance(e, InboundMessage)]

    @property
    def channel_events(self) -> list[ChannelEvent]:
        return [e for e in self.events if isinstance(e, ChannelEvent)]


@pytest.fixture
def ingress() -> RecordingIngress:
    return RecordingIngress()


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=DEFAULT_TOKEN) as fake:
        yield fake


@pytest.fixture
async def telegram(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(DEFAULT_TOKEN, webhook_secret=SECRET, api_base=fake_telegram.base_url)
    await channel.start()
    yield channel
    await channel.close()


@pytest.fixture
async def telegram_client(
    telegram: TelegramChannel, ingress: RecordingIngress
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    app.add_routes(telegram.routes(ingress))
    async with TestClient(TestServer(app)) as client:
        yield client
