"""Failed console logins: an exponential delay, then a lock, per account and per client IP.

Every login attempt is counted *before* the password is checked (so a burst of parallel
attempts cannot all slip past the limit); a success takes its count back (the account's
count is cleared). After the n-th failure of a key (n >= 2: one typo costs nothing) the next
attempt must wait ``delay_seconds * 2**(n-2)``; at ``limit`` failures the key is locked for
``lock_seconds``. Counts are forgotten ``lock_seconds`` after the last attempt.

In memory for one process (embedded mode); on Redis when the deployment has one, so every
gateway shares the counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis import asyncio as aioredis

__all__ = ["LoginConfig", "MemoryThrottle", "RedisThrottle", "Throttle"]


@dataclass(frozen=True, slots=True)
class LoginConfig:
    """Console login protection (settings ``OMNIRELAY_LOGIN_*``, ``OMNIRELAY_TRUSTED_PROXIES``)."""

    max_failures: int = 5  # per account: then locked
    ip_max_failures: int = 20  # per client IP address: then locked
    lock_minutes: float = 15.0
    delay_seconds: float = 1.0  # after the n-th failure (n >= 2) the next waits this * 2**(n-2)
    allowed_origins: tuple[str, ...] = ()  # besides the service's own host
    trusted_proxies: tuple[str, ...] = ()  # their X-Forwarded-For / -Proto are believed

    @classmethod
    def of(cls, settings: Any) -> LoginConfig:
        """From the application's settings (``login_*`` and ``trusted_proxies``; handoff does
        not import the settings' class)."""
        return cls(
            max_failures=settings.login_max_failures,
            ip_max_failures=settings.login_ip_max_failures,
            lock_minutes=settings.login_lock_minutes,
            delay_seconds=settings.login_delay_seconds,
            allowed_origins=tuple(settings.login_allowed_origins),
            trusted_proxies=tuple(settings.trusted_proxies),
        )

    @property
    def lock_seconds(self) -> float:
        return self.lock_minutes * 60

    def wait_after(self, failures: int, limit: int) -> float:
        """How long a key waits after its ``failures``-th failure."""
        if failures >= limit:
            return self.lock_seconds
        if failures <= 1:
            return 0.0  # one typo costs nothing
        return min(self.lock_seconds, self.delay_seconds * 2.0 ** (failures - 2))


class Throttle(Protocol):
    async def attempt(self, key: str, limit: int) -> tuple[int, float]:
        """Count an attempt: ``(count, 0)``; or refuse it: ``(0, seconds to wait)``."""
        ...

    async def failed(self, key: str, wait: float) -> None:
        """The attempt failed: the key waits ``wait`` seconds."""
        ...

    async def forget(self, key: str, *, clear: bool) -> None:
        """Take the attempt back (``clear``: every failure of the key, too)."""
        ...


class MemoryThrottle:
    """One process's counts."""

    def __init__(self, lock_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = lock_seconds
        self._clock = clock
        self._keys: dict[str, tuple[int, float, float]] = {}  # count, forget at, blocked until

    async def attempt(self, key: str, limit: int) -> tuple[int, float]:
        now = self._clock()
        count, forget_at, blocked = self._keys.get(key, (0, 0.0, 0.0))
        if forget_at <= now:
            count = 0
        if blocked > now:
            return 0, blocked - now
        if count >= limit:
            return 0, max(forget_at - now, 1.0)
        self._keys[key] = (count + 1, now + self._ttl, blocked)
        self._prune(now)
        return count + 1, 0.0

    async def failed(self, key: str, wait: float) -> None:
        now = self._clock()
        count, forget_at, _ = self._keys.get(key, (1, now + self._ttl, 0.0))
        self._keys[key] = (count, max(forget_at, now + wait), now + wait)

    async def forget(self, key: str, *, clear: bool) -> None:
        count, forget_at, blocked = self._keys.get(key, (0, 0.0, 0.0))
        if clear or count <= 1:
            self._keys.pop(key, None)
        else:
            self._keys[key] = (count - 1, forget_at, blocked)

    def _prune(self, now: float) -> None:
        if len(self._keys) > 10_000:
            self._keys = {k: v for k, v in self._keys.items() if v[1] > now or v[2] > now}


class RedisThrottle:
    """Counts shared by every process: the count (part ``n``) and the wait (``block``)."""

    def __init__(
        self, redis: aioredis.Redis, lock_seconds: float, key_of: Callable[[str, str], str]
    ) -> None:
        self._redis = redis
        self._ttl_ms = max(1, int(lock_seconds * 1000))
        self._key = key_of  # `storage.keys.Keys.login_throttle`

    async def attempt(self, key: str, limit: int) -> tuple[int, float]:
        blocked = int(await self._redis.pttl(self._key(key, "block")))
        if blocked > 0:
            return 0, blocked / 1000
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._key(key, "n"))
            pipe.pexpire(self._key(key, "n"), self._ttl_ms)
            count, _ = await pipe.execute()
        if int(count) > limit:
            await self._redis.decr(self._key(key, "n"))
            return 0, self._ttl_ms / 1000
        return int(count), 0.0

    async def failed(self, key: str, wait: float) -> None:
        if wait <= 0:
            return
        wait_ms = max(1, int(wait * 1000))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(key, "block"), "1", px=wait_ms)
            pipe.pexpire(self._key(key, "n"), max(wait_ms, self._ttl_ms))
            await pipe.execute()

    async def forget(self, key: str, *, clear: bool) -> None:
        if clear:
            await self._redis.delete(self._key(key, "n"), self._key(key, "block"))
        else:
            await self._redis.decr(self._key(key, "n"))
