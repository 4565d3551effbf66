"""Opening the shared async Redis client."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from storage.errors import BackendUnavailable

__all__ = ["close_subscription", "connect_redis", "subscribe"]


async def connect_redis(
    url: str,
    *,
    health_check_interval: int = 30,
    max_connections: int = 200,
    pool_timeout: float = 10.0,
) -> aioredis.Redis:
    """Connect to Redis at ``url`` and PING it.

    Responses are bytes (``decode_responses=False``); callers decode what they need.
    The pool is bounded and *blocking*: under a burst, callers wait up to ``pool_timeout``
    for a free connection instead of failing with "Too many connections".
    Raises `BackendUnavailable` when the server cannot be reached.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=False,
        health_check_interval=health_check_interval,
        max_connections=max_connections,
        timeout=pool_timeout,
    )
    client = aioredis.Redis.from_pool(pool)
    try:
        await client.ping()
    except (RedisError, OSError) as e:
        await client.aclose()
        raise BackendUnavailable(f"cannot reach Redis at {_safe(url)}: {e}") from e
    return client


async def subscribe(redis: aioredis.Redis, channel: str, *, wait: float = 10.0) -> PubSub:
    """A pub/sub connection subscribed to ``channel``, returned once Redis has confirmed the
    subscription (so nothing published after this call is missed). Raises
    `BackendUnavailable` when it cannot be had within ``wait`` seconds."""
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel)
        async with asyncio.timeout(wait):
            while True:
                msg: Any = await pubsub.get_message(timeout=1.0)
                if msg is not None and msg["type"] in ("subscribe", b"subscribe"):
                    return pubsub
    except (RedisError, OSError, TimeoutError) as e:
        await pubsub.aclose()
        raise BackendUnavailable(f"cannot subscribe to {channel}: {e}") from e


async def close_subscription(listener: asyncio.Task[Any] | None, pubsub: PubSub | None) -> None:
    """Stop a subscription's listener task and close its connection (either may be None)."""
    if listener is not None:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    if pubsub is not None:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()


def _safe(url: str) -> str:
    """The URL without a password, for error messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
