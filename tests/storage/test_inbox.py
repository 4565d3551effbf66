"""The durable inbox, its queue adapters and sweeper, and sessions rebuilt from snapshots; on
SQLite/memory and PostgreSQL/Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from storage.backends import Backends
from storage.db import Database
from storage.inbox import INBOX, Inbox, NewEntry, is_swept, mark_processed, mark_swept
from storage.inbox_queue import QueueBounds, WorkQueue, work_queue
from storage.inbox_sweeper import InboxSweeper
from storage.models import Customer, utcnow
from storage.queue import Delivery
from storage.repositories.messages import MessageRepository
from storage.session_snapshots import snapshot_loader
from storage.sessions import MemorySessionStore, RedisSessionStore, Session


@pytest.fixture
async def inbox(db: Database) -> AsyncIterator[Inbox]:
    box = Inbox(db)
    box.attach()
    try:
        yield box
    finally:
        await box.close()


def entry(pid: str, key: str = "telegram:1", body: bytes | None = None) -> NewEntry:
    return NewEntry("telegram", pid, key, body or f'{{"id":"{pid}"}}'.encode())


def queue_of(backends: Backends, **bounds: int) -> WorkQueue:
    return work_queue(backends.queue, backends.redis, backends.keys, QueueBounds(**bounds))


async def drain(backends: Backends, count: int) -> list[Delivery]:
    """Consume ``count`` deliveries (acking them) and return them in handling order."""
    got: list[Delivery] = []
    stop = asyncio.Event()

    async def handler(d: Delivery) -> None:
        got.append(d)
        if len(got) >= count:
            stop.set()

    await asyncio.wait_for(backends.queue.consume(handler, concurrency=4, stop=stop), 30)
    return got


async def test_record_is_the_duplicate_check(inbox: Inbox) -> None:
    first = await inbox.record([entry("1"), entry("2"), entry("1")])
    assert first[0] is not None and first[1] is not None and first[2] is None
    again = await inbox.record([entry("2"), entry("3")])
    assert again[0] is None and again[1] is not None
    # concurrent webhooks share one transaction and still get their own answers
    results = await asyncio.gather(*(inbox.record([entry(f"c{i}"), entry("1")]) for i in range(20)))
    assert all(r[0] is not None and r[1] is None for r in results)
    assert [r.body for r in await inbox.pending()][:3] == [
        b'{"id":"1"}',
        b'{"id":"2"}',
        b'{"id":"3"}',
    ]


async def test_done_and_withdraw(inbox: Inbox, db: Database) -> None:
    ids = await inbox.record([entry("a"), entry("b"), entry("c")])
    mark_processed(db, "telegram", "a")
    await inbox.flush()
    assert [r.id for r in await inbox.pending()] == ids[1:]
    assert await inbox.withdraw([ids[0], ids[1]]) == 1  # a done row stays
    assert [r.id for r in await inbox.pending()] == [ids[2]]
    # withdrawn: the platform's retry is a new event, not a duplicate
    assert (await inbox.record([entry("b")]))[0] is not None


async def test_prune_keeps_the_duplicate_window(inbox: Inbox, db: Database) -> None:
    await inbox.record([entry("old"), entry("new")])
    mark_processed(db, "telegram", "old")
    await inbox.flush()
    assert await inbox.prune(utcnow() - dt.timedelta(hours=1)) == 0
    assert await inbox.prune(utcnow() + dt.timedelta(seconds=1)) == 1
    async with db.session() as s:
        assert (await s.execute(select(INBOX.c.platform_id))).scalars().all() == ["new"]


def test_swept_flag_keeps_the_json() -> None:
    import orjson

    body = b'{"type":"message","data":{"a":1}}'
    flagged = mark_swept(body)
    assert is_swept(flagged) and not is_swept(body) and mark_swept(flagged) == flagged
    assert orjson.loads(flagged) == {"type": "message", "data": {"a": 1}, "swept": True}


async def test_offers_wait_for_the_restore_and_respect_bounds(backends: Backends) -> None:
    queue = queue_of(backends, total=0, per_partition=2)
    assert await queue.lost() == list(range(queue.partitions))
    assert await queue.offer([("k", b"{}")]) == ["lost"]
    for p in range(queue.partitions):
        assert await queue.restore(p, [])
    assert not await queue.restore(0, [])  # restored once only
    assert await queue.lost() == []
    offers = await queue.offer([("k", b'{"n":1}'), ("k", b'{"n":2}'), ("k", b'{"n":3}')])
    assert offers == ["queued", "queued", "full"]
    assert await queue.put_back([("k", b'{"n":4}')]) == ["queued"]  # the sweeper's bypass
    assert [d.body for d in await drain(backends, 3)] == [b'{"n":1}', b'{"n":2}', b'{"n":4}']


async def test_total_bound_refuses_before_the_write(backends: Backends) -> None:
    from storage.inbox import InboxBusy

    queue = queue_of(backends, total=2, per_partition=0)
    for p in range(queue.partitions):
        await queue.restore(p, [])
    await queue.check_room()
    assert await queue.offer([("a", b"{}"), ("b", b"{}")]) == ["queued", "queued"]
    if backends.redis is not None:
        await asyncio.sleep(0.3)  # the Redis depth is cached for 0.25 s
    with pytest.raises(InboxBusy) as caught:
        await queue.check_room()
    assert caught.value.retry_after == 5.0


async def test_restore_puts_back_in_accepted_order(inbox: Inbox, backends: Backends) -> None:
    queue = queue_of(backends)
    sweeper = InboxSweeper(inbox, queue, grace=300)
    bodies = [f'{{"n":{i}}}'.encode() for i in range(6)]
    await inbox.record([entry(str(i), f"telegram:{i % 2}", b) for i, b in enumerate(bodies)])
    assert len(await sweeper.restore_lost()) == 6
    assert await sweeper.restore_lost() == set()
    got = await drain(backends, 6)
    assert all(is_swept(d.body) for d in got)
    for key in ("telegram:0", "telegram:1"):
        mine = [d.body for d in got if d.key == key]
        assert mine == sorted(mine)  # per key, accepted order


async def test_stale_rows_go_back_with_their_key(inbox: Inbox, backends: Backends) -> None:
    queue = queue_of(backends)
    for p in range(queue.partitions):
        await queue.restore(p, [])
    sweeper = InboxSweeper(inbox, queue, grace=60, max_sweeps=1)
    await inbox.record([entry("1", "telegram:a"), entry("2", "telegram:b")])
    assert await sweeper.sweep_stale() == 0  # nothing is old yet
    later = utcnow() + dt.timedelta(seconds=61)
    await inbox.record([entry("3", "telegram:a")])  # newer, same key: goes back with it
    assert await sweeper.sweep_stale(later) == 3
    got = await drain(backends, 3)
    assert [d.body for d in got if d.key == "telegram:a"] == [
        mark_swept(b'{"id":"1"}'),
        mark_swept(b'{"id":"3"}'),
    ]
    assert await sweeper.sweep_stale(later) == 0  # swept once: given up (max_sweeps=1)
    assert await inbox.pending() == []


async def _customer_with_snapshot(db: Database, snapshot: dict[str, object]) -> int:
    async with db.transaction() as s:
        customer = Customer()
        s.add(customer)
        await s.flush()
        await MessageRepository(s).add_inbound(
            customer_id=customer.id,
            conversation_id=None,
            channel="telegram",
            external_user_id="42",
            platform_message_id=f"m{customer.id}",
            text="tomorrow at 15:00",
            session_snapshot={**snapshot, "customer_id": customer.id},
            now=utcnow(),
        )
        return customer.id


async def test_a_lost_session_is_rebuilt_from_the_transcript(
    db: Database, backends: Backends
) -> None:
    booking = {"version": 3, "flow": "booking", "step": "time", "slots": {"service": "dental"}}
    customer_id = await _customer_with_snapshot(db, booking)
    store = backends.sessions
    assert isinstance(store, MemorySessionStore | RedisSessionStore)
    assert (await store.get(customer_id)).version == 0  # no loader: a fresh session
    store.recover_with(snapshot_loader(db, 3600))
    rebuilt = await store.get(customer_id)
    assert (rebuilt.flow, rebuilt.step, rebuilt.slots, rebuilt.version) == (
        "booking",
        "time",
        {"service": "dental"},
        3,
    )
    saved = await store.save(rebuilt)  # stored at its version: the next save just works
    assert saved.version == 4 and (await store.get(customer_id)).version == 4
    assert await store.get(customer_id + 1000) == Session(customer_id + 1000)
    gone = snapshot_loader(db, 0.0)  # older than the TTL: not brought back
    assert await gone(customer_id) is None
