"""The outbound rate limiter on a virtual clock: no real sleeps."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest

from bots.channels.base import ChannelLimits
from bots.channels.ratelimit import RateLimiter


class VirtualClock:
    """A monotonic clock and a sleep that only end when the test advances time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + delay, next(self._seq), future))
        await future

    async def settle(self) -> None:
        for _ in range(10):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in order at their own wake-up times."""
        target = self.now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target + 1e-9:
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            if not future.done():
                future.set_result(None)
            await self.settle()
        self.now = target


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


async def run_all(
    limiter: RateLimiter, clock: VirtualClock, chats: list[str], until: float
) -> list[tuple[str, float]]:
    """Start one acquire per chat id (in order); return (chat, time) as each is let through."""
    done: list[tuple[str, float]] = []

    async def one(chat: str) -> None:
        await limiter.acquire(chat)
        done.append((chat, clock.now))

    tasks = [asyncio.create_task(one(c)) for c in chats]
    step = 0.25
    elapsed = 0.0
    while elapsed < until:
        await clock.advance(step)
        elapsed += step
    await asyncio.gather(*tasks)
    return done


async def test_burst_within_capacity_passes_at_once(clock: VirtualClock) -> None:
    limiter = RateLimiter(1.0, 30.0, per_chat_burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.acquire("chat-1")
    assert clock.now == 0.0


async def test_per_chat_burst_queues_in_order(clock: VirtualClock) -> None:
    limiter = RateLimiter(1.0, None, clock=clock, sleep=clock.sleep)
    done = await run_all(limiter, clock, ["a"] * 5, until=5)
    assert [t for _, t in done] == [0.0, 1.0, 2.0, 3.0, 4.0]


async def test_chats_are_independent_but_share_the_global_rate(clock: VirtualClock) -> None:
    limiter = RateLimiter(1.0, 2.0, global_burst=2, clock=clock, sleep=clock.sleep)
    done = await run_all(limiter, clock, ["a", "b", "c", "d", "a"], until=3)
    times = dict.fromkeys("abcd", 0.0)
    for chat, t in done:
        times[chat] = t
    assert [t for _, t in done[:2]] == [0.0, 0.0]  # a and b: global burst of 2
    assert sorted(t for _, t in done) == [0.0, 0.0, 0.5, 1.0, 1.5]
    assert times["a"] == 1.5  # a's second message waited for its chat, then a global slot


async def test_idle_time_refills_only_up_to_the_burst(clock: VirtualClock) -> None:
    limiter = RateLimiter(1.0, None, per_chat_burst=2, clock=clock, sleep=clock.sleep)
    await limiter.acquire("a")
    await clock.advance(100)
    done = await run_all(limiter, clock, ["a"] * 4, until=3)
    assert [t - 100 for _, t in done] == [0.0, 0.0, 1.0, 2.0]


async def test_cancelled_waiter_gives_its_token_back(clock: VirtualClock) -> None:
    limiter = RateLimiter(1.0, None, clock=clock, sleep=clock.sleep)
    await limiter.acquire("a")
    waiting = asyncio.create_task(limiter.acquire("a"))
    await clock.settle()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await clock.advance(1)
    await limiter.acquire("a")  # the refunded token plus one second of refill
    assert clock.now == 1.0


async def test_no_limits_never_wait(clock: VirtualClock) -> None:
    limiter = RateLimiter(None, None, clock=clock, sleep=clock.sleep)
    for i in range(100):
        await limiter.acquire(str(i % 3))
    assert clock.now == 0.0 and limiter.tracked_chats == 0


async def test_idle_chats_are_forgotten(clock: VirtualClock) -> None:
    limiter = RateLimiter(1.0, None, clock=clock, sleep=clock.sleep, max_idle_chats=10)
    for i in range(10):
        await limiter.acquire(f"chat-{i}")
    await clock.advance(5)
    await limiter.acquire("new")
    assert limiter.tracked_chats == 1


def test_from_channel_limits(clock: VirtualClock) -> None:
    limits = ChannelLimits(
        max_text=10, max_buttons=1, max_button_title=5, per_chat_rate=1.0, global_rate=30.0
    )
    limiter = RateLimiter.from_limits(limits, clock=clock, sleep=clock.sleep)
    assert isinstance(limiter, RateLimiter)
    with pytest.raises(ValueError):
        RateLimiter(0, None)


async def test_a_channels_global_rate_holds_in_every_second_even_after_a_pause(
    clock: VirtualClock,
) -> None:
    limits = ChannelLimits(max_text=10, max_buttons=1, max_button_title=5, global_rate=30.0)
    limiter = RateLimiter.from_limits(limits, clock=clock, sleep=clock.sleep)
    await clock.advance(100)  # idle: the bucket is as full as it gets
    done = await run_all(limiter, clock, [f"chat-{i}" for i in range(90)], until=4)
    times = sorted(t for _, t in done)
    busiest = max(sum(1 for t in times if start <= t < start + 1 - 1e-6) for start in times)
    # 30/s less the headroom kept for the way to the platform; a saved-up second of tokens
    # would have let 60 through
    assert busiest == 27


def test_outbound_rates_replace_a_platforms_overall_figure() -> None:
    from bots.channels.registry import build_channels
    from bots.config import Settings

    settings = Settings(
        telegram_token="1:x", viber_token="v", outbound_rates={"telegram": 1000, "viber": 500}
    )
    channels = build_channels(settings, mailbox=lambda: None)  # type: ignore[arg-type,return-value]
    assert channels["telegram"].limits.global_rate == 1000
    assert channels["telegram"].limits.per_chat_rate == 1.0  # the per-chat pace is kept
    assert channels["viber"].limits.global_rate == 500
    with pytest.raises(ValueError):
        Settings(outbound_rates={"telegram": 0})


async def test_sends_planned_during_a_stall_do_not_crowd_the_next_second(
    clock: VirtualClock,
) -> None:
    limits = ChannelLimits(max_text=10, max_buttons=1, max_button_title=5, global_rate=30.0)
    limiter = RateLimiter.from_limits(limits, clock=clock, sleep=clock.sleep)
    done: list[float] = []

    async def one(i: int) -> None:
        await limiter.acquire(f"chat-{i}")
        done.append(clock.now)

    tasks = [asyncio.create_task(one(i)) for i in range(90)]
    await clock.settle()
    clock.now += 0.2  # the event loop was busy: six planned sends are late and pass together
    for _ in range(16):
        await clock.advance(0.25)
    await asyncio.gather(*tasks)
    # (sends exactly one second apart are in different seconds, whatever the float rounding)
    busiest = max(sum(1 for t in done if start <= t < start + 1 - 1e-6) for start in done)
    assert len(done) == 90 and busiest <= 27  # the bucket alone: 35 at 30/s
