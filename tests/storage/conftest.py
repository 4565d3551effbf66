"""Fixtures of the storage suite: a Redis client under a random prefix, a migrated database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from storage.keys import Keys
from storage.redis import connect_redis
from tests.conftest import drop_postgres_database, fresh_postgres_database


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def kind(request: pytest.FixtureRequest) -> str:
    """Which implementation a parametrised test builds: "memory" or "redis"."""
    return str(request.param)


@pytest.fixture
def keys(key_prefix: str) -> Keys:
    return Keys(key_prefix)


@pytest.fixture
async def redis_client(redis_url: str, _redis_cleanup: None) -> AsyncIterator[aioredis.Redis]:
    client = await connect_redis(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis_or_none(
    kind: str, request: pytest.FixtureRequest
) -> AsyncIterator[aioredis.Redis | None]:
    """A Redis client (this test's keys are deleted afterwards) when ``kind == "redis"``."""
    if kind == "memory":
        yield None
        return
    url: str = request.getfixturevalue("redis_url")
    request.getfixturevalue("_redis_cleanup")
    client = await connect_redis(url)
    try:
        yield client
    finally:
        await client.aclose()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 5.0, what: str = "condition"
) -> None:
    """Poll an async ``check`` until it is true; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() >= deadline:
            raise AssertionError(f"{what} not reached within {within} s")
        await asyncio.sleep(0.01)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    name, url = fresh_postgres_database(postgres_url)
    try:
        yield url
    finally:
        drop_postgres_database(postgres_url, name)
