"""DuplicateFilter and CustomerLocks, against memory and Redis."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import redis.asyncio as aioredis

from storage.dedup import DuplicateFilter, MemoryDuplicateFilter, RedisDuplicateFilter
from storage.errors import LockTimeout
from storage.keys import Keys
from storage.locks import CustomerLocks, MemoryCustomerLocks, RedisCustomerLocks
from tests.storage.conftest import eventually


def make_filter(redis: aioredis.Redis | None, keys: Keys, ttl: float = 60) -> DuplicateFilter:
    return MemoryDuplicateFilter(ttl) if redis is None else RedisDuplicateFilter(redis, keys, ttl)


def make_locks(redis: aioredis.Redis | None, keys: Keys, lease_ms: int = 30_000) -> CustomerLocks:
    if redis is None:
        return MemoryCustomerLocks()
    return RedisCustomerLocks(redis, keys, lease_ms=lease_ms)


async def test_first_time_then_duplicate(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    dedup = make_filter(redis_or_none, keys)
    assert await dedup.first_time("telegram:1")
    assert not await dedup.first_time("telegram:1")
    assert await dedup.first_time("viber:1")


async def test_concurrent_first_time_exactly_one(
    redis_or_none: aioredis.Redis | None, keys: Keys
) -> None:
    dedup = make_filter(redis_or_none, keys)
    results = await asyncio.gather(*(dedup.first_time("telegram:77") for _ in range(50)))
    assert results.count(True) == 1


async def test_forget_allows_retry(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    dedup = make_filter(redis_or_none, keys)
    assert await dedup.first_time("k")
    await dedup.forget("k")
    assert await dedup.first_time("k")
    await dedup.forget("never-seen")


async def test_dedup_ttl(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    dedup = make_filter(redis_or_none, keys, ttl=0.2)
    assert await dedup.first_time("k")

    async def forgotten() -> bool:
        return bool(await dedup.first_time("k"))

    await eventually(forgotten, within=3, what="dedup expiry")


async def test_memory_filter_is_bounded() -> None:
    dedup = MemoryDuplicateFilter(60, max_entries=3)
    for i in range(5):
        assert await dedup.first_time(str(i))
    assert not await dedup.first_time("4")
    assert await dedup.first_time("0")  # evicted as the oldest


async def test_lock_mutual_exclusion(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    locks = make_locks(redis_or_none, keys)
    inside = 0
    peak = 0
    order: list[int] = []

    async def worker(i: int) -> None:
        nonlocal inside, peak
        async with locks.hold(1, timeout=10):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            order.append(i)
            inside -= 1

    await asyncio.gather(*(worker(i) for i in range(8)))
    assert peak == 1
    assert sorted(order) == list(range(8))


async def test_different_customers_do_not_block(
    redis_or_none: aioredis.Redis | None, keys: Keys
) -> None:
    locks = make_locks(redis_or_none, keys)
    async with locks.hold(1, timeout=1), locks.hold(2, timeout=1):
        pass


async def test_lock_timeout(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    locks = make_locks(redis_or_none, keys)
    async with locks.hold(5, timeout=1):
        with pytest.raises(LockTimeout):
            async with locks.hold(5, timeout=0.1):
                pass
    async with locks.hold(5, timeout=1):  # released after the timeout and after the holder
        pass


async def test_memory_locks_are_cleaned_up() -> None:
    locks = MemoryCustomerLocks()
    async with locks.hold(1, timeout=1):
        with pytest.raises(LockTimeout):
            async with locks.hold(1, timeout=0.01):
                pass
        assert len(locks) == 1
    assert len(locks) == 0


@pytest.mark.redis
async def test_redis_lock_lease_is_renewed_while_held(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    locks = RedisCustomerLocks(redis_client, keys, lease_ms=300)
    other = RedisCustomerLocks(redis_client, keys, lease_ms=300)
    async with locks.hold(3, timeout=1):
        # Held for well beyond one lease: another process still cannot take it.
        with pytest.raises(LockTimeout):
            async with other.hold(3, timeout=0.9):
                pass
    assert await redis_client.exists(keys.lock(3)) == 0
    async with other.hold(3, timeout=1):
        pass


@pytest.mark.redis
async def test_redis_lock_expires_when_holder_dies(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    # A crashed holder (token set, nobody renews) blocks others only until the lease ends.
    await redis_client.set(keys.lock(4), b"dead-holder", px=300)
    locks = RedisCustomerLocks(redis_client, keys, lease_ms=300)
    async with locks.hold(4, timeout=3):
        assert await redis_client.get(keys.lock(4)) != b"dead-holder"


@pytest.mark.redis
async def test_redis_lock_is_released_when_the_client_loses_the_renewers_cancel(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    # redis-py 8 returns a command's result to a task cancelled during it (measured: about a
    # third of `task.cancel()`s landing in a GET or EVALSHA are lost): a renewer cancelled
    # mid-renew must still stop, or leaving `hold` waits for it forever.
    locks = RedisCustomerLocks(redis_client, keys, lease_ms=300)
    renewing = asyncio.Event()

    async def renew_losing_the_cancel(*, keys: list[str], args: list[object]) -> int:
        renewing.set()
        with contextlib.suppress(asyncio.CancelledError):  # as redis-py 8 does
            await asyncio.sleep(0.2)
        return 1

    locks._renew = renew_losing_the_cancel  # type: ignore[method-assign]

    async def hold_through_a_renew() -> None:
        async with locks.hold(5, timeout=1):
            await renewing.wait()

    holder = asyncio.create_task(hold_through_a_renew())
    await asyncio.wait({holder}, timeout=10)  # a deadline, not a cancel: `hold` must end itself
    if not holder.done():  # the bug: stop its renewer so the test fails instead of hanging
        for task in asyncio.all_tasks():
            if task.get_name().startswith("lock-renew:"):
                task.cancel()
    assert holder.done() and not holder.cancelled(), "leaving hold waited for the renewer"
    assert await redis_client.exists(keys.lock(5)) == 0
