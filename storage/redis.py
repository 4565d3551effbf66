"""Opening the shared async Redis client."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import BackendUnavailable

__all__ = ["connect_redis"]


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


def _safe(url: str) -> str:
    """The URL without a password, for error messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
