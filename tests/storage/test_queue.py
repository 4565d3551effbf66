"""MessageQueue contract, against the in-process queue and Redis Streams."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis

from storage.errors import BackendUnavailable
from storage.keys import Keys
from storage.queue import Delivery, Handler, MessageQueue
from storage.queue_memory import MemoryQueue
from storage.queue_redis import RedisStreamQueue
from tests.storage.conftest import eventually


def make_queue(redis: aioredis.Redis | None, keys: Keys, *, max_attempts: int = 5) -> MessageQueue:
    if redis is None:
        return MemoryQueue(max_attempts=max_attempts, retry_delay=0.01)
    return RedisStreamQueue(
        redis,
        keys,
        partitions=4,
        consumer_id="only",
        lease_ms=2000,
        max_attempts=max_attempts,
        retry_delay=0.01,
        block_ms=50,
    )


async def dead_letters(queue: MessageQueue) -> list[Delivery]:
    if isinstance(queue, MemoryQueue):
        return queue.dead_letters
    assert isinstance(queue, RedisStreamQueue)
    return await queue.dead_letters()


@asynccontextmanager
async def consuming(
    queue: MessageQueue, handler: Handler, concurrency: int = 4
) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(queue.consume(handler, concurrency=concurrency, stop=stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def drained(queue: MessageQueue) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await queue.depth() == 0

    return check


async def test_per_key_order_and_cross_key_concurrency(
    redis_or_none: aioredis.Redis | None, keys: Keys
) -> None:
    queue = make_queue(redis_or_none, keys)
    n_keys, per_key = 20, 15
    seen: dict[str, list[int]] = defaultdict(list)
    busy: set[str] = set()
    in_flight = peak = 0

    async def handler(d: Delivery) -> None:
        nonlocal in_flight, peak
        assert d.key not in busy, f"two handlers at once for {d.key}"
        busy.add(d.key)
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            for _ in range(random.randint(0, 3)):
                await asyncio.sleep(0)
            seen[d.key].append(int(d.body))
        finally:
            busy.discard(d.key)
            in_flight -= 1

    async def publisher(key: str) -> None:
        for i in range(per_key):
            await queue.publish(key, str(i).encode())
            await asyncio.sleep(0)

    async with consuming(queue, handler, concurrency=4):
        await asyncio.gather(*(publisher(f"telegram:{k}") for k in range(n_keys)))
        await eventually(drained(queue), within=20, what="queue drained")
    assert set(seen) == {f"telegram:{k}" for k in range(n_keys)}
    for key, bodies in seen.items():
        assert bodies == list(range(per_key)), key
    assert 1 < peak <= 4


async def test_retry_keeps_order(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    queue = make_queue(redis_or_none, keys)
    handled: list[tuple[bytes, int]] = []

    async def handler(d: Delivery) -> None:
        handled.append((d.body, d.attempt))
        if d.body == b"1" and d.attempt < 3:
            raise RuntimeError("transient")

    for i in range(4):
        await queue.publish("viber:abc", str(i).encode())
    async with consuming(queue, handler):
        await eventually(drained(queue), what="queue drained")
    assert handled == [(b"0", 1), (b"1", 1), (b"1", 2), (b"1", 3), (b"2", 1), (b"3", 1)]
    assert await dead_letters(queue) == []


async def test_dead_letter_after_max_attempts(
    redis_or_none: aioredis.Redis | None, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    queue = make_queue(redis_or_none, keys, max_attempts=3)
    handled: list[tuple[bytes, int]] = []

    async def handler(d: Delivery) -> None:
        handled.append((d.body, d.attempt))
        if d.body == b"poison":
            raise ValueError("cannot parse")

    poison_id = await queue.publish("k", b"poison")
    await queue.publish("k", b"after")
    with caplog.at_level(logging.ERROR, logger="storage.queue"):
        async with consuming(queue, handler):
            await eventually(drained(queue), what="queue drained")
    assert handled == [(b"poison", 1), (b"poison", 2), (b"poison", 3), (b"after", 1)]
    dead = await dead_letters(queue)
    assert [(d.id, d.key, d.body, d.attempt) for d in dead] == [(poison_id, "k", b"poison", 3)]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("key=k" in m and poison_id in m for m in errors), errors


async def test_a_storage_outage_costs_no_attempt_and_never_dead_letters(
    redis_or_none: aioredis.Redis | None, keys: Keys
) -> None:
    """Redis or the database restarting is not the message's fault: it waits, in order, for
    as long as the outage lasts, however many times that takes."""
    queue = make_queue(redis_or_none, keys, max_attempts=2)
    handled: list[tuple[bytes, int]] = []
    outage = 6  # more failures than max_attempts allows

    async def handler(d: Delivery) -> None:
        nonlocal outage
        handled.append((d.body, d.attempt))
        if d.body == b"first" and outage > 0:
            outage -= 1
            raise BackendUnavailable("database unreachable")

    await queue.publish("k", b"first")
    await queue.publish("k", b"second")
    async with consuming(queue, handler):
        await eventually(drained(queue), within=30, what="queue drained")
    assert handled == [(b"first", 1)] * 7 + [(b"second", 1)]
    assert await dead_letters(queue) == []


async def test_depth_counts_unacked(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    queue = make_queue(redis_or_none, keys)
    assert await queue.depth() == 0
    for i in range(3):
        await queue.publish(f"k{i}", b"x")
    assert await queue.depth() == 3
    release = asyncio.Event()
    started: list[str] = []

    async def handler(d: Delivery) -> None:
        started.append(d.key)
        await release.wait()

    async with consuming(queue, handler):
        await eventually(lambda: _true(len(started) == 3), what="handlers started")
        assert await queue.depth() == 3  # handed out but not acked yet
        release.set()
        await eventually(drained(queue), what="queue drained")
    await queue.close()


async def test_concurrency_limit(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    queue = make_queue(redis_or_none, keys)
    release = asyncio.Event()
    running: set[str] = set()
    peak = 0

    async def handler(d: Delivery) -> None:
        nonlocal peak
        running.add(d.key)
        peak = max(peak, len(running))
        await release.wait()
        running.discard(d.key)

    for i in range(6):
        await queue.publish(f"k{i}", b"x")
    async with consuming(queue, handler, concurrency=2):
        await eventually(lambda: _true(len(running) == 2), what="two handlers running")
        release.set()
        await eventually(drained(queue), what="queue drained")
    assert peak == 2


async def test_stop_drains_in_flight_handler(
    redis_or_none: aioredis.Redis | None, keys: Keys
) -> None:
    queue = make_queue(redis_or_none, keys)
    started = asyncio.Event()
    release = asyncio.Event()
    done: list[bytes] = []

    async def handler(d: Delivery) -> None:
        started.set()
        await release.wait()
        done.append(d.body)

    await queue.publish("k", b"a")
    stop = asyncio.Event()
    task = asyncio.create_task(queue.consume(handler, concurrency=2, stop=stop))
    await asyncio.wait_for(started.wait(), 10)
    stop.set()
    finished, _ = await asyncio.wait({task}, timeout=0.2)
    assert not finished  # consume() waits for the in-flight handler
    release.set()
    await asyncio.wait_for(task, 10)
    assert done == [b"a"]
    assert await queue.depth() == 0


async def test_unacked_messages_are_redelivered_by_next_consume(
    redis_or_none: aioredis.Redis | None, keys: Keys
) -> None:
    queue = make_queue(redis_or_none, keys)
    attempts: list[tuple[bytes, int]] = []
    failing = True

    async def handler(d: Delivery) -> None:
        attempts.append((d.body, d.attempt))
        if failing:
            raise RuntimeError("down")

    await queue.publish("k", b"m")
    async with consuming(queue, handler):
        await eventually(lambda: _true(len(attempts) >= 1), what="first attempt")
    # consume() returned while the message waited for its retry: it stays queued.
    assert await queue.depth() == 1
    failing = False
    async with consuming(queue, handler):
        await eventually(drained(queue), what="queue drained")
    assert attempts[-1][0] == b"m"
    assert attempts[-1][1] >= 2


async def _true(value: bool) -> bool:
    return value


async def test_memory_queue_allows_one_consumer_at_a_time() -> None:
    from storage.errors import StorageError

    queue = MemoryQueue()

    async def handler(d: Delivery) -> None:
        pass

    async with consuming(queue, handler):
        await asyncio.sleep(0)
        with pytest.raises(StorageError):
            await queue.consume(handler, concurrency=1, stop=asyncio.Event())
