"""Duplicate detection for platform retries: remember a key for a while, atomically."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import BackendUnavailable
from storage.keys import DEDUP_TTL_SECONDS, Keys

__all__ = ["DuplicateFilter", "MemoryDuplicateFilter", "RedisDuplicateFilter"]


class DuplicateFilter(Protocol):
    """Marks keys such as ``"telegram:<message id>"`` as seen."""

    async def first_time(self, key: str) -> bool:
        """Atomically mark ``key``; True only for the first call within the TTL."""
        ...

    async def forget(self, key: str) -> None:
        """Un-mark ``key`` (enqueue failed, so the platform's retry must not be dropped)."""
        ...


class MemoryDuplicateFilter:
    """In-process filter holding at most ``max_entries`` keys, oldest evicted first."""

    def __init__(self, ttl_seconds: float = DEDUP_TTL_SECONDS, max_entries: int = 100_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> expiry, in expiry order

    async def first_time(self, key: str) -> bool:
        """See `DuplicateFilter.first_time`."""
        now = time.monotonic()
        # Every entry gets the same TTL, so insertion order is expiry order.
        while self._seen:
            oldest, expires = next(iter(self._seen.items()))
            if expires > now:
                break
            del self._seen[oldest]
        if key in self._seen:
            return False
        self._seen[key] = now + self._ttl
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return True

    async def forget(self, key: str) -> None:
        """See `DuplicateFilter.forget`."""
        self._seen.pop(key, None)


class RedisDuplicateFilter:
    """Filter over ``SET key 1 NX EX ttl``."""

    def __init__(
        self, redis: aioredis.Redis, keys: Keys, ttl_seconds: float = DEDUP_TTL_SECONDS
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_ms = max(1, int(ttl_seconds * 1000))

    async def first_time(self, key: str) -> bool:
        """See `DuplicateFilter.first_time`."""
        try:
            res = await self._redis.set(self._keys.dedup(key), b"1", nx=True, px=self._ttl_ms)
        except (RedisError, OSError) as e:  # a refused socket may come unwrapped
            raise BackendUnavailable(f"Redis dedup check failed: {e}") from e
        return bool(res)

    async def forget(self, key: str) -> None:
        """See `DuplicateFilter.forget`."""
        try:
            await self._redis.delete(self._keys.dedup(key))
        except (RedisError, OSError) as e:  # a refused socket may come unwrapped
            raise BackendUnavailable(f"Redis dedup forget failed: {e}") from e
