"""Redis Streams queue across several consumer processes (two queue objects, one Redis)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from storage.keys import Keys
from storage.queue import Delivery
from storage.queue_redis import RedisStreamQueue
from storage.redis import connect_redis
from tests.storage.conftest import eventually

pytestmark = pytest.mark.redis


@pytest.fixture
async def second_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """Another connection pool, as a second worker process would have."""
    client = await connect_redis(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def make(
    client: aioredis.Redis, keys: Keys, consumer: str, lease_ms: int = 600
) -> RedisStreamQueue:
    return RedisStreamQueue(
        client,
        keys,
        partitions=8,
        consumer_id=consumer,
        lease_ms=lease_ms,
        retry_delay=0.01,
        block_ms=50,
    )


async def _true(value: bool) -> bool:
    return value


async def test_partition_is_stable_and_spread(redis_client: aioredis.Redis, keys: Keys) -> None:
    queue = make(redis_client, keys, "c")
    assert queue.partition_of("telegram:1") == queue.partition_of("telegram:1")
    assert len({queue.partition_of(f"telegram:{i}") for i in range(100)}) == 8


async def test_two_consumers_share_partitions_without_breaking_key_order(
    redis_client: aioredis.Redis, second_client: aioredis.Redis, keys: Keys
) -> None:
    q1 = make(redis_client, keys, "c1")
    q2 = make(second_client, keys, "c2")
    seen: dict[str, list[int]] = defaultdict(list)
    by_consumer: dict[str, int] = defaultdict(int)
    busy: set[str] = set()
    overlaps: list[str] = []

    def handler_for(name: str):  # type: ignore[no-untyped-def]
        async def handler(d: Delivery) -> None:
            if d.key in busy:
                overlaps.append(d.key)
            busy.add(d.key)
            try:
                await asyncio.sleep(0.001)
                seen[d.key].append(int(d.body))
                by_consumer[name] += 1
            finally:
                busy.discard(d.key)

        return handler

    n_keys, per_key = 24, 30

    async def publisher(key: str, start: int, stop: int) -> None:
        for i in range(start, stop):
            await q1.publish(key, str(i).encode())
            await asyncio.sleep(0)

    stop1, stop2 = asyncio.Event(), asyncio.Event()
    t1 = asyncio.create_task(q1.consume(handler_for("c1"), concurrency=4, stop=stop1))
    try:
        await eventually(lambda: _true(len(q1.owned_partitions) == 8), what="c1 owns all")
        await asyncio.gather(*(publisher(f"k{k}", 0, per_key // 2) for k in range(n_keys)))
        # A second process joins while messages are in flight: partitions get rebalanced.
        t2 = asyncio.create_task(q2.consume(handler_for("c2"), concurrency=4, stop=stop2))
        await asyncio.gather(*(publisher(f"k{k}", per_key // 2, per_key) for k in range(n_keys)))
        await eventually(
            lambda: _true(len(q1.owned_partitions) == 4 and len(q2.owned_partitions) == 4),
            what="partitions shared 4/4",
        )
        assert not q1.owned_partitions & q2.owned_partitions
        await asyncio.gather(*(publisher(f"k{k}", per_key, per_key + 10) for k in range(n_keys)))

        async def drained() -> bool:
            return await q1.depth() == 0

        await eventually(drained, within=30, what="queue drained")
    finally:
        stop1.set()
        stop2.set()
        await asyncio.wait_for(t1, 10)
        with contextlib.suppress(NameError):
            await asyncio.wait_for(t2, 10)
    assert overlaps == []
    for k in range(n_keys):
        assert seen[f"k{k}"] == list(range(per_key + 10)), f"k{k}"
    assert by_consumer["c1"] > 0 and by_consumer["c2"] > 0
    # A graceful stop releases the leases and the heartbeat.
    assert await redis_client.exists(*(keys.partition_lease(p) for p in range(8))) == 0
    assert await redis_client.zcard(keys.consumers()) == 0


async def test_crashed_consumer_partition_is_taken_over(
    redis_client: aioredis.Redis, second_client: aioredis.Redis, keys: Keys
) -> None:
    q1 = make(redis_client, keys, "doomed", lease_ms=500)
    q2 = make(second_client, keys, "survivor", lease_ms=500)
    started = asyncio.Event()

    async def stuck(d: Delivery) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes: the process "dies" mid-message

    first = await q1.publish("telegram:9", b"m1")
    await q1.publish("telegram:9", b"m2")
    crashed = asyncio.create_task(q1.consume(stuck, concurrency=2, stop=asyncio.Event()))
    await asyncio.wait_for(started.wait(), 10)
    crashed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await crashed
    partition = q1.partition_of("telegram:9")
    lease = await redis_client.get(keys.partition_lease(partition))
    assert lease.startswith(b"doomed:")  # not released (the value is "<owner>:<fence token>")

    handled: list[tuple[str, bytes, int]] = []

    async def handler(d: Delivery) -> None:
        handled.append((d.id, d.body, d.attempt))

    stop = asyncio.Event()
    survivor = asyncio.create_task(q2.consume(handler, concurrency=2, stop=stop))
    try:
        await eventually(lambda: _true(len(handled) == 2), within=10, what="takeover")
        assert handled[0] == (first, b"m1", 2)  # redelivered: second delivery
        # m2 sat in the dead process's buffer: delivered once already, so attempt 2 as well.
        assert handled[1][1:] == (b"m2", 2)
        await eventually(lambda: _true(len(q2.owned_partitions) == 8), what="survivor owns all")
        assert await q2.depth() == 0
    finally:
        stop.set()
        await asyncio.wait_for(survivor, 10)


async def test_group_creation_is_idempotent(redis_client: aioredis.Redis, keys: Keys) -> None:
    queue = make(redis_client, keys, "c")
    await queue.publish("k", b"before any group exists")
    await queue.ensure_groups()
    await queue.ensure_groups()
    handled: list[bytes] = []

    async def handler(d: Delivery) -> None:
        handled.append(d.body)

    stop = asyncio.Event()
    task = asyncio.create_task(queue.consume(handler, concurrency=1, stop=stop))
    try:
        await eventually(lambda: _true(handled == [b"before any group exists"]))
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    # Acked entries are deleted, so streams do not grow forever.
    assert await redis_client.xlen(keys.stream(queue.partition_of("k"))) == 0


async def test_lost_lease_stops_reading_until_it_is_free_again(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    queue = make(redis_client, keys, "c1", lease_ms=400)
    handled: list[bytes] = []

    async def handler(d: Delivery) -> None:
        handled.append(d.body)

    stop = asyncio.Event()
    task = asyncio.create_task(queue.consume(handler, concurrency=2, stop=stop))
    try:
        await eventually(lambda: _true(len(queue.owned_partitions) == 8), what="owns all")
        p = queue.partition_of("k")
        # Another process grabbed the partition (e.g. this one stalled past its lease).
        await redis_client.set(keys.partition_lease(p), b"thief", px=600)
        await eventually(lambda: _true(p not in queue.owned_partitions), what="lease loss seen")
        await queue.publish("k", b"while stolen")
        # The thief's lease runs out without renewal: the partition comes back and is read.
        await eventually(lambda: _true(handled == [b"while stolen"]), within=5, what="re-taken")
        assert p in queue.owned_partitions
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.mark.parametrize("delay_ms", [0, 1, 3, 7, 15, 40])
async def test_stop_while_partitions_are_being_taken_always_returns(
    redis_client: aioredis.Redis, keys: Keys, delay_ms: int
) -> None:
    """A stop that lands while the consumer is still taking partition leases must not leave
    a reader running (consume() once hung forever in that window). Stops at several points
    of start-up; each must return promptly and leave no lease behind."""

    async def handler(_: object) -> None:
        return None

    for round_ in range(4):
        queue = make(redis_client, keys, f"stopper-{delay_ms}-{round_}", lease_ms=2000)
        stop = asyncio.Event()
        task = asyncio.create_task(queue.consume(handler, concurrency=4, stop=stop))
        # vary where in start-up the stop lands (not waiting for work: stopping mid-way)
        await asyncio.sleep(delay_ms / 1000)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        assert queue.owned_partitions == frozenset()
        leases = [await redis_client.get(keys.partition_lease(p)) for p in range(8)]
        assert not any(lease == f"stopper-{delay_ms}-{round_}".encode() for lease in leases)
