"""Fencing tokens: writes under a lease that passed on commit nothing (SQLite and PostgreSQL),
and a Redis partition lease that passed on can no longer read or ack."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from storage import fences
from storage.db import Database
from storage.errors import FenceLost
from storage.fences import FenceToken, fenced
from storage.keys import Keys
from storage.models import Customer, Message
from storage.queue_partitions import PartitionLeases
from storage.repositories.messages import MessageRepository, outbound_values
from storage.turns import Reply, Turn, TurnWriter

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


async def _advance(db: Database, fence: FenceToken) -> None:
    async with db.transaction() as s:
        await fences.advance(s, fence)


async def _customers(db: Database) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(Customer))).scalar_one())


async def test_a_transaction_under_an_older_fence_writes_nothing(db: Database) -> None:
    old, new = FenceToken("t:q:1", 1), FenceToken("t:q:1", 2)
    await _advance(db, old)
    with fenced(old):
        async with db.transaction() as s:  # still current: commits
            s.add(Customer(display_name="first"))
    await _advance(db, new)
    await _advance(db, old)  # never moves back
    async with db.session() as s:
        assert await fences.stored_token(s, "t:q:1") == 2
    with fenced(old), pytest.raises(FenceLost, match="passed to token 2"):
        async with db.transaction() as s:
            s.add(Customer(display_name="stale"))
    with fenced(new):
        async with db.transaction() as s:
            s.add(Customer(display_name="current"))
    async with db.transaction() as s:  # unfenced work is not checked
        s.add(Customer(display_name="unfenced"))
    assert await _customers(db) == 3


async def test_the_fence_binds_only_the_task_that_set_it(db: Database) -> None:
    """An outbox lane started during a turn outlives it: it is not bound by the turn's lease."""
    old = FenceToken("t:q:2", 1)
    await _advance(db, FenceToken("t:q:2", 5))

    async def child() -> None:
        async with db.transaction() as s:
            s.add(Customer(display_name="child"))

    with fenced(old):
        await asyncio.create_task(child())
        assert fences.current() == old
    assert fences.current() is None
    assert await _customers(db) == 1


def _turn(customer_id: int, mid: str, fence: FenceToken) -> Turn:
    return Turn(
        customer_id=customer_id,
        conversation_id=None,
        channel="telegram",
        external_user_id=f"u{customer_id}",
        platform_message_id=mid,
        text=mid,
        payload=None,
        intent=None,
        session_snapshot=None,
        now=NOW,
        replies=[Reply("bot", f"re {mid}", {"text": f"re {mid}"})],
        fence=fence,
        claimed_by="worker-a",
    )


async def test_turn_writer_drops_only_the_stale_turns_of_a_batch(db: Database) -> None:
    async with db.transaction() as s:
        c = Customer(display_name="T")
        s.add(c)
        await s.flush()
        customer = c.id
    stale, current = FenceToken("t:q:3", 1), FenceToken("t:q:4", 7)
    await _advance(db, FenceToken("t:q:3", 2))
    await _advance(db, current)
    writer = TurnWriter(db)
    try:
        results = await asyncio.gather(
            writer.write(_turn(customer, "m1", stale)),
            writer.write(_turn(customer, "m2", current)),
            return_exceptions=True,
        )
    finally:
        await writer.close()
    assert isinstance(results[0], FenceLost)
    assert not isinstance(results[1], BaseException) and results[1].inbound_id is not None
    async with db.session() as s:
        repo = MessageRepository(s)
        assert await repo.find_inbound("telegram", "m1") is None
        row = await repo.find_inbound("telegram", "m2")
        assert row is not None
        (reply,) = await repo.replies_to(row.id)
        assert reply.claimed_by == "worker-a" and reply.status == "pending"


async def test_a_reply_claimed_by_another_process_is_not_reclaimed_or_extended(
    db: Database,
) -> None:
    async with db.transaction() as s:
        c = Customer(display_name="T")
        s.add(c)
        await s.flush()
        values = outbound_values(
            customer_id=c.id,
            conversation_id=None,
            channel="telegram",
            external_user_id="u",
            sender_kind="bot",
            text="hi",
            body={"text": "hi"},
            in_reply_to_id=None,
            now=NOW,
            due_at=NOW + dt.timedelta(seconds=30),
            claimed_by="a",
        )
        row = Message(**values)
        s.add(row)
        await s.flush()
        row_id = row.id
    later = NOW + dt.timedelta(seconds=31)
    async with db.transaction() as s:  # a's lease ran out: b's sweeper claims the row
        (claimed,) = await MessageRepository(s).claim_due_outbound(later, 30, 10, claimed_by="b")
        assert claimed.id == row_id and claimed.claimed_by == "b"
    async with db.transaction() as s:  # a wakes up: neither its heartbeat nor a send may take it
        repo = MessageRepository(s)
        assert await repo.extend_leases([row_id], later + dt.timedelta(seconds=60), "a") == 0
        assert not await repo.reclaim(row_id, "a", later, later + dt.timedelta(seconds=30))
        assert await repo.reclaim(row_id, "b", later, later + dt.timedelta(seconds=30))
        await repo.mark_sent(row_id, "42", later)
    async with db.transaction() as s:  # once sent, nobody sends it again
        assert not await MessageRepository(s).reclaim(row_id, "b", later, later)


@pytest.mark.redis
async def test_a_partition_lease_that_passed_on_cannot_read_or_ack(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    group, p = "workers", 3
    stream = keys.stream(p)
    await redis_client.xgroup_create(stream, group, id="0", mkstream=True)
    a = PartitionLeases(redis_client, keys, "a", lease_ms=60_000)
    b = PartitionLeases(redis_client, keys, "b", lease_ms=60_000)
    owned_a = await a.acquire(p)
    assert owned_a is not None and owned_a.token == 1
    assert await b.acquire(p) is None  # held
    first = await redis_client.xadd(stream, {b"k": b"x", b"b": b"1"})
    got = await a.read(owned_a, group, 10, ">")
    assert got is not None and [e[0] for e in got[0]] == [first]
    await redis_client.delete(keys.partition_lease(p))  # a's lease expired while it was stopped
    owned_b = await b.acquire(p)
    assert owned_b is not None and owned_b.token == 2
    assert owned_b.fence == b.fence_of(p, 2) and owned_b.fence.scope.endswith(":q:3")
    second = await redis_client.xadd(stream, {b"k": b"x", b"b": b"2"})
    assert await a.read(owned_a, group, 10, ">") is None  # a cannot take the new entry
    assert not await a.ack(p, owned_a.holder, group, first.decode())
    assert not await a.renew(owned_a)
    got = await b.read(owned_b, group, 10, "0")  # b re-reads what a left pending
    assert got is not None and [e[0] for e in got[0]] == [first]
    got = await b.read(owned_b, group, 10, ">")
    assert got is not None and [e[0] for e in got[0]] == [second]
    assert await b.ack(p, owned_b.holder, group, first.decode())
    assert await redis_client.xlen(stream) == 1


@pytest.mark.redis
async def test_a_queue_whose_redis_lost_its_fence_counters_catches_up_with_the_database(
    db: Database, redis_client: aioredis.Redis, keys: Keys
) -> None:
    """Redis restarted without persistence: its fence counters start again at 1, below the
    tokens the database holds. The partition is taken again under a newer token, not left
    with every turn fenced out."""
    from storage.queue import Delivery
    from storage.queue_redis import RedisStreamQueue

    queue = RedisStreamQueue(redis_client, keys, partitions=1, lease_ms=3000)
    scope = queue._leases.fence_of(0, 1).scope
    await _advance(db, FenceToken(scope, 5))  # tokens handed out before the data loss

    async def advance(fence: FenceToken) -> int:
        async with db.transaction() as s:
            return await fences.advance(s, fence)

    queue.on_fence = advance
    got: list[Delivery] = []
    stop = asyncio.Event()

    async def handler(d: Delivery) -> None:
        got.append(d)
        stop.set()

    await queue.publish("telegram:1", b"hello")
    await asyncio.wait_for(queue.consume(handler, concurrency=1, stop=stop), timeout=60)
    assert [d.body for d in got] == [b"hello"]
    assert got[0].fence is not None and got[0].fence.token == 6
    async with db.session() as s:
        assert await fences.stored_token(s, scope) == 6
