"""Outbound rate limiting: token buckets per chat and overall that wait instead of failing.

`await limiter.acquire(chat_id)` returns when one more message to that chat may be sent. Each
call reserves its token at once (the bucket may go negative) and sleeps for the debt, so
concurrent callers are served in arrival order and a burst becomes a queue, not errors. The
per-chat token is taken first and the global one only when the chat is ready, so a message
held back by its chat never spends global capacity it cannot use.

A platform's overall figure ("30 messages per second") holds for any second, so a channel's
global bucket saves up one token, not a second's worth (a full bucket of N would let 2N through
in the second after a pause), and a sliding window counts the sends as they really pass: when
the event loop stalls, the sends the bucket planned during the stall pass together, and the
window keeps them from crowding the next second. Between passing here and reaching the platform
a send still waits a little, more on a busy machine (the benchmark measured sends that passed
30 a second arriving 33 in a second), so a channel's overall pace keeps `GLOBAL_HEADROOM` below
the platform's figure: a 429 can cost far more than the tenth. `OMNIRELAY_OUTBOUND_RATES`
replaces a platform's figure (`with_global_rate`), e.g. Telegram's 1,000/s for paid broadcasts.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bots.channels.base import ChannelLimits

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

GLOBAL_BURST = 1.0  # tokens a channel's global bucket saves up (see the module's docstring)
GLOBAL_HEADROOM = 0.1  # a channel's overall pace keeps this share below the platform's figure


def with_global_rate(limits: ChannelLimits, rate: float) -> ChannelLimits:
    """``limits`` with another overall rate (messages per second per bot)."""
    if not rate > 0:
        raise ValueError("an overall rate must be positive")
    return replace(limits, global_rate=rate)


@dataclass
class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up; `tokens` may go negative (debt)."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def reserve(self, now: float) -> float:
        """Take one token; return how many seconds to wait before using it."""
        self._refill(now)
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def refund(self, now: float) -> None:
        """Give back a reserved token that was not used (the waiter was cancelled)."""
        self._refill(now)
        self.tokens = min(self.capacity, self.tokens + 1)

    def idle(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


class SlidingWindow:
    """At most ``limit`` passes in any ``span`` seconds, counted when they pass."""

    def __init__(self, limit: int, span: float, clock: Clock, sleep: Sleep) -> None:
        self._limit = limit
        self._span = span
        self._clock = clock
        self._sleep = sleep
        self._passed: deque[float] = deque()

    async def wait(self) -> None:
        while True:
            now = self._clock()
            # a microsecond's slack: a sleep until the oldest pass leaves the window must see
            # it gone on waking, whatever the float rounding
            while self._passed and self._passed[0] + self._span - now <= 1e-6:
                self._passed.popleft()
            if len(self._passed) < self._limit:
                self._passed.append(now)
                return
            await self._sleep(self._passed[0] + self._span - now)


class RateLimiter:
    """Per-chat and global token buckets; a rate of None means no limit on that level.
    ``global_window``: also no more than the global rate in any second as sends pass."""

    def __init__(
        self,
        per_chat_rate: float | None,
        global_rate: float | None,
        *,
        per_chat_burst: float = 1.0,
        global_burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_idle_chats: int = 10_000,
        global_window: bool = False,
    ) -> None:
        for label, value in (("per_chat_rate", per_chat_rate), ("global_rate", global_rate)):
            if value is not None and value <= 0:
                raise ValueError(f"{label} must be positive or None")
        if per_chat_burst < 1 or (global_burst is not None and global_burst < 1):
            raise ValueError("bursts must be at least 1")
        self._chat_rate = per_chat_rate
        self._chat_burst = per_chat_burst
        self._clock = clock
        self._sleep = sleep
        self._max_idle_chats = max_idle_chats
        self._chats: dict[str, TokenBucket] = {}
        self._global: TokenBucket | None = None
        if global_rate is not None:
            burst = global_burst if global_burst is not None else max(1.0, global_rate)
            self._global = TokenBucket(global_rate, burst, burst, clock())
        self._window: SlidingWindow | None = None
        if global_rate is not None and global_window:
            self._window = SlidingWindow(max(1, math.floor(global_rate)), 1.0, clock, sleep)

    @classmethod
    def from_limits(
        cls,
        limits: ChannelLimits,
        *,
        per_chat_burst: float = 1.0,
        global_burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> RateLimiter:
        """A limiter for a channel's declared rates: the overall pace `GLOBAL_HEADROOM` below
        the platform's figure, holding in every second as sends pass; the global burst
        defaults to `GLOBAL_BURST`."""
        overall = limits.global_rate
        return cls(
            limits.per_chat_rate,
            overall * (1 - GLOBAL_HEADROOM) if overall is not None else None,
            per_chat_burst=per_chat_burst,
            global_burst=GLOBAL_BURST if global_burst is None else global_burst,
            clock=clock,
            sleep=sleep,
            global_window=True,
        )

    async def acquire(self, chat_id: str) -> None:
        """Wait until one message to `chat_id` may be sent now."""
        if self._chat_rate is not None:
            await self._take(self._chat_bucket(chat_id))
        if self._global is not None:
            await self._take(self._global)
        if self._window is not None:
            await self._window.wait()

    async def _take(self, bucket: TokenBucket) -> None:
        delay = bucket.reserve(self._clock())
        if delay <= 0:
            return
        try:
            await self._sleep(delay)
        except asyncio.CancelledError:
            bucket.refund(self._clock())
            raise

    def _chat_bucket(self, chat_id: str) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            assert self._chat_rate is not None
            if len(self._chats) >= self._max_idle_chats:
                self._forget_idle()
            now = self._clock()
            bucket = TokenBucket(self._chat_rate, self._chat_burst, self._chat_burst, now)
            self._chats[chat_id] = bucket
        return bucket

    def _forget_idle(self) -> None:
        """Drop full buckets: a new bucket starts full, so forgetting them changes nothing."""
        now = self._clock()
        for chat_id in [c for c, b in self._chats.items() if b.idle(now)]:
            del self._chats[chat_id]

    @property
    def tracked_chats(self) -> int:
        return len(self._chats)
