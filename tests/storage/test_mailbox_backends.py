"""ReplyMailbox (memory and Redis, across two Redis mailbox objects) and open_backends."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from storage.backends import Backends, open_backends
from storage.errors import BackendUnavailable, StorageError
from storage.keys import Keys
from storage.mailbox import MemoryReplyMailbox, RedisReplyMailbox
from storage.queue import Delivery
from storage.sessions import Session


async def test_memory_mailbox_roundtrip() -> None:
    mailbox = MemoryReplyMailbox()
    async with mailbox.expect("req-1") as waiter:
        await mailbox.deliver(mailbox.node_id, "req-1", b"answer")
        assert await waiter.get(timeout=1) == b"answer"


async def test_memory_mailbox_timeout_and_unknown_requests() -> None:
    mailbox = MemoryReplyMailbox("node-a")
    await mailbox.deliver("node-a", "nobody-waits", b"x")  # dropped quietly
    await mailbox.deliver("node-b", "req", b"x")  # other node: dropped
    async with mailbox.expect("req") as waiter:
        assert await waiter.get(timeout=0.05) is None
    async with mailbox.expect("req"), mailbox.expect("other"):
        with pytest.raises(StorageError):
            async with mailbox.expect("req"):
                pass


@pytest.mark.redis
async def test_redis_mailbox_across_two_processes(redis_client: aioredis.Redis, keys: Keys) -> None:
    gateway_a = RedisReplyMailbox(redis_client, keys, "gw-a")
    gateway_b = RedisReplyMailbox(redis_client, keys, "gw-b")
    worker = RedisReplyMailbox(redis_client, keys, "worker")  # delivers without start()
    await gateway_a.start()
    await gateway_b.start()
    try:
        async with gateway_a.expect("r1") as wa, gateway_b.expect("r1") as wb:
            await worker.deliver("gw-b", "r1", b"for b\nwith newline")
            assert await wb.get(timeout=5) == b"for b\nwith newline"
            assert await wa.get(timeout=0.05) is None  # same request id, other node
            await worker.deliver("gw-a", "r1", b"for a")
            assert await wa.get(timeout=5) == b"for a"
        async with gateway_a.expect("slow") as waiter:
            assert await waiter.get(timeout=0.05) is None
    finally:
        await gateway_a.close()
        await gateway_b.close()


@pytest.mark.redis
async def test_redis_mailbox_requires_start(redis_client: aioredis.Redis, keys: Keys) -> None:
    mailbox = RedisReplyMailbox(redis_client, keys)
    with pytest.raises(StorageError):
        mailbox.expect("r")
    await mailbox.close()  # harmless when never started


async def test_backends_work_end_to_end(backends: Backends) -> None:
    saved = await backends.sessions.save(Session(1, flow="faq"))
    assert (await backends.sessions.get(1)).version == saved.version
    assert await backends.dedup.first_time("telegram:1")
    assert not await backends.dedup.first_time("telegram:1")
    async with backends.locks.hold(1, timeout=1):
        pass
    async with backends.mailbox.expect("req") as waiter:
        await backends.mailbox.deliver(backends.mailbox.node_id, "req", b"ok")
        assert await waiter.get(timeout=5) == b"ok"

    got: list[bytes] = []
    done = asyncio.Event()

    async def handler(d: Delivery) -> None:
        got.append(d.body)
        done.set()

    await backends.queue.publish("telegram:1", b"hello")
    stop = asyncio.Event()
    task = asyncio.create_task(backends.queue.consume(handler, concurrency=2, stop=stop))
    await asyncio.wait_for(done.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert got == [b"hello"]
    assert await backends.queue.depth() == 0


async def test_open_backends_unreachable_redis() -> None:
    with pytest.raises(BackendUnavailable, match="cannot reach Redis"):
        await open_backends("redis://127.0.0.1:1/0")
