"""Test helpers of the Viber and Instagram channel tests: a webhook client built from a
channel's real routes (the recording Ingress lives in `conftest.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.channels.conftest import RecordingIngress


@asynccontextmanager
async def webhook_client(
    channel: Any, ingress: RecordingIngress
) -> AsyncIterator[TestClient[Any, Any]]:
    """A test client of a small app holding only `channel.routes(ingress)`."""
    app = web.Application()
    app.add_routes(channel.routes(ingress))
    async with TestClient(TestServer(app)) as client:
        yield client
