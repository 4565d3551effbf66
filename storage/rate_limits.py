"""Token buckets keyed by a caller's identity (a chat, an IP address), in memory or on Redis.

One bucket holds up to ``burst`` tokens and refills at ``per_second``; each call takes one. A
call that finds the bucket empty is refused, and the first refusal after an allowed call is
marked ``"notify"`` (the caller answers politely once per flood), the rest ``"drop"``. On Redis
the bucket is one hash updated by a Lua script on the server's clock, so every gateway of a
scale-out deployment shares it; the key expires once the bucket would be full again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from redis import asyncio as aioredis

__all__ = ["Bucket", "MemoryRateLimits", "RateLimits", "RedisRateLimits", "Verdict"]

Verdict = Literal["allow", "notify", "drop"]
#: a quiet bucket is forgotten after this long at most (it would be full again anyway)
MAX_IDLE_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class Bucket:
    """How many calls may come at once (``burst``) and how fast the allowance comes back."""

    burst: int
    per_second: float

    def __post_init__(self) -> None:
        if self.burst < 1 or not self.per_second > 0:
            raise ValueError("a bucket needs burst >= 1 and a positive rate")

    @property
    def idle_seconds(self) -> int:
        """How long an untouched bucket takes to fill up from empty (capped)."""
        return min(MAX_IDLE_SECONDS, math.ceil(self.burst / self.per_second) + 1)


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    retry_after: float  # seconds until the bucket holds a token again (0 when allowed)


class RateLimits(Protocol):
    async def take(self, key: str) -> Decision: ...

    async def give_back(self, key: str, tokens: int) -> None:
        """Return tokens taken for calls that did not count (a duplicate, a failed store)."""
        ...


class MemoryRateLimits:
    """The buckets of one process (embedded mode)."""

    def __init__(self, bucket: Bucket, clock: Callable[[], float] = time.monotonic) -> None:
        self._bucket = bucket
        self._clock = clock
        self._state: dict[str, tuple[float, float, bool]] = {}  # tokens, at, noticed
        self._pruned_at = clock()

    async def take(self, key: str) -> Decision:
        now, b = self._clock(), self._bucket
        tokens, at, noticed = self._state.get(key, (float(b.burst), now, False))
        tokens = min(float(b.burst), tokens + max(0.0, now - at) * b.per_second)
        verdict: Verdict
        if tokens >= 1:
            tokens, noticed, verdict = tokens - 1, False, "allow"
        elif not noticed:
            noticed, verdict = True, "notify"
        else:
            verdict = "drop"
        self._state[key] = (tokens, now, noticed)
        self._prune(now)
        return Decision(verdict, 0.0 if verdict == "allow" else (1 - tokens) / b.per_second)

    async def give_back(self, key: str, tokens: int) -> None:
        if key in self._state:
            left, at, noticed = self._state[key]
            self._state[key] = (min(float(self._bucket.burst), left + tokens), at, noticed)

    def _prune(self, now: float) -> None:
        """Forget buckets that have been idle long enough to be full again."""
        idle = self._bucket.idle_seconds
        if now - self._pruned_at < idle:
            return
        self._pruned_at = now
        self._state = {k: v for k, v in self._state.items() if now - v[1] < idle}


#: KEYS[1] = the bucket (a hash); ARGV = burst, tokens per second, seconds to keep it.
#: Returns {verdict, seconds until a token} (strings: Redis would truncate a Lua float).
TAKE = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local h = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'noticed')
local tokens = tonumber(h[1]) or burst
local at = tonumber(h[2]) or now
local noticed = tonumber(h[3]) or 0
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local verdict = 'drop'
if tokens >= 1 then
  tokens = tokens - 1
  noticed = 0
  verdict = 'allow'
elseif noticed == 0 then
  noticed = 1
  verdict = 'notify'
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now), 'noticed', noticed)
redis.call('EXPIRE', KEYS[1], ARGV[3])
local wait = 0
if verdict ~= 'allow' then wait = (1 - tokens) / rate end
return {verdict, tostring(wait)}
"""


#: KEYS[1] = the bucket; ARGV = burst, tokens to give back. Only to a bucket that exists.
GIVE_BACK = """
local left = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if left == nil then return 0 end
left = math.min(tonumber(ARGV[1]), left + tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'tokens', tostring(left))
return 1
"""


class RedisRateLimits:
    """Buckets shared by every process on one Redis; ``key_of`` names a bucket's key
    (`storage.keys.Keys.inbound_rate` or `ip_rate`)."""

    def __init__(self, redis: aioredis.Redis, bucket: Bucket, key_of: Callable[[str], str]) -> None:
        self._bucket = bucket
        self._key_of = key_of
        self._take = redis.register_script(TAKE)
        self._give_back = redis.register_script(GIVE_BACK)

    async def take(self, key: str) -> Decision:
        b = self._bucket
        raw = await self._take(
            keys=[self._key_of(key)], args=[b.burst, b.per_second, b.idle_seconds]
        )
        verdict, wait = (v.decode() if isinstance(v, bytes) else str(v) for v in raw)
        if verdict not in ("allow", "notify", "drop"):
            raise ValueError(f"unexpected rate limit verdict {verdict!r}")
        return Decision(verdict, float(wait))  # type: ignore[arg-type]

    async def give_back(self, key: str, tokens: int) -> None:
        await self._give_back(keys=[self._key_of(key)], args=[self._bucket.burst, tokens])
