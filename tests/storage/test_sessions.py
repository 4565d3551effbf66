"""SessionStore contract, against memory and Redis."""

from __future__ import annotations

import asyncio
import dataclasses

import orjson
import pytest
import redis.asyncio as aioredis

from storage.backends import Backends
from storage.db import Database
from storage.errors import StaleSession
from storage.keys import Keys
from storage.models import Customer, utcnow
from storage.repositories.messages import MessageRepository
from storage.session_snapshots import snapshot_loader
from storage.sessions import (
    EscalationRequest,
    MemorySessionStore,
    RedisSessionStore,
    Session,
    SessionStore,
    reads_kept,
)
from tests.storage.conftest import eventually


def make_store(redis: aioredis.Redis | None, keys: Keys, ttl: float = 60) -> SessionStore:
    if redis is None:
        return MemorySessionStore(ttl)
    return RedisSessionStore(redis, keys, ttl)


async def test_absent_session_is_fresh(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    store = make_store(redis_or_none, keys)
    session = await store.get(42)
    assert session == Session(42)
    assert session.version == 0


async def test_save_and_get_roundtrip(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    store = make_store(redis_or_none, keys)
    session = await store.get(7)
    session.flow = "booking"
    session.slots = {"date": "2026-01-02", "people": 2, "nested": {"a": [1, "ü"]}}
    session.language = "uk"
    saved = await store.save(session)
    assert saved.version == 1
    assert saved.updated_at > 0
    assert session.version == 0  # the argument is not mutated
    loaded = await store.get(7)
    assert loaded == saved
    loaded.step = "confirm"
    again = await store.save(loaded)
    assert again.version == 2
    assert (await store.get(7)).step == "confirm"


async def test_stale_save_is_rejected(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    store = make_store(redis_or_none, keys)
    first = await store.get(1)
    second = await store.get(1)
    first.flow = "faq"
    await store.save(first)
    second.flow = "booking"
    with pytest.raises(StaleSession):
        await store.save(second)
    assert (await store.get(1)).flow == "faq"


async def test_concurrent_saves_exactly_one_wins(
    redis_or_none: aioredis.Redis | None, keys: Keys
) -> None:
    store = make_store(redis_or_none, keys)
    base = await store.save(Session(5))
    results = await asyncio.gather(
        *(store.save(Session(5, version=base.version, step=str(i))) for i in range(10)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Session) for r in results) == 1
    assert sum(isinstance(r, StaleSession) for r in results) == 9
    assert (await store.get(5)).version == 2


async def test_ttl_expiry(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    store = make_store(redis_or_none, keys, ttl=0.2)
    await store.save(Session(9, flow="booking"))
    assert (await store.get(9)).flow == "booking"

    async def expired() -> bool:
        return (await store.get(9)).version == 0

    await eventually(expired, within=3, what="session expiry")
    # After expiry a fresh session (version 0) can be saved again.
    assert (await store.save(Session(9))).version == 1


async def test_save_refreshes_ttl(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    store = make_store(redis_or_none, keys, ttl=0.6)
    session = await store.save(Session(3))
    loop = asyncio.get_running_loop()
    end = loop.time() + 1.2
    while loop.time() < end:  # keep saving for twice the TTL: it must never expire meanwhile
        session = await store.save(session)
        await asyncio.sleep(0.05)
    assert (await store.get(3)).version == session.version


async def test_delete(redis_or_none: aioredis.Redis | None, keys: Keys) -> None:
    store = make_store(redis_or_none, keys)
    await store.save(Session(11, flow="x"))
    await store.delete(11)
    assert await store.get(11) == Session(11)
    await store.delete(11)  # idempotent


def test_json_ignores_unknown_fields() -> None:
    raw = Session(1, slots={"a": 1}).to_json().replace(b"{", b'{"future_field":1,', 1)
    assert Session.from_json(raw) == Session(1, slots={"a": 1})


def test_keys_carry_hash_tags() -> None:
    keys = Keys("p")
    assert "{cust:12}" in keys.session(12)
    assert "{cust:12}" in keys.lock(12)
    assert "{q:3}" in keys.stream(3)
    assert "{q:3}" in keys.partition_lease(3)
    assert keys.session(1).startswith("p:")


def test_non_json_slots_raise_storage_error() -> None:
    from storage.errors import StorageError

    with pytest.raises(StorageError):
        Session(1, slots={"when": object()}).to_json()


# A session as releases before the typed fields saved it: conversation, ticket and escalation
# were keys of `data`, beside keys that stay there.
OLD_ESCALATION = {
    "reason": "request_human",
    "intent": "request_human",
    "at": "2026-03-12T10:00:00+00:00",
    "flow": "booking",
    "step": "time",
    "slots": {"service": "dental"},
}
OLD_DATA = {
    "conversation_id": 17,
    "ticket_id": 5,
    "escalation": OLD_ESCALATION,
    "csat": {"ticket_id": 4},
    "proactive": {"job_id": 9},
}


def old_document(customer_id: int, version: int = 3) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "version": version,
        "language": "uk",
        "flow": "booking",
        "step": "time",
        "slots": {"service": "dental"},
        "fallback_count": 0,
        "handoff": "pending",
        "last_channel": "telegram",
        "last_inbound_id": 30,
        "data": OLD_DATA,
        "updated_at": 1.0,
    }


def assert_typed(session: Session) -> None:
    assert (session.conversation_id, session.ticket_id) == (17, 5)
    assert session.escalation == EscalationRequest(
        reason="request_human",
        intent="request_human",
        at="2026-03-12T10:00:00+00:00",
        flow="booking",
        step="time",
        slots={"service": "dental"},
    )
    assert session.data == {"csat": {"ticket_id": 4}, "proactive": {"job_id": 9}}
    assert (session.flow, session.step, session.handoff) == ("booking", "time", "pending")


def test_a_session_saved_before_the_typed_fields_loads_into_them() -> None:
    session = Session.from_json(orjson.dumps(old_document(1)))
    assert_typed(session)
    assert Session.from_json(session.to_json()) == session  # and is saved in the new shape
    assert b'"ticket_id":5' in session.to_json()


def test_an_escalation_of_a_failed_turn_has_only_a_reason_and_a_time() -> None:
    doc = old_document(1)
    doc["data"] = {"escalation": {"reason": "processing_error", "at": "2026-03-12T10:00:00"}}
    session = Session.from_json(orjson.dumps(doc))
    assert session.escalation == EscalationRequest("processing_error", at="2026-03-12T10:00:00")
    assert (session.ticket_id, session.conversation_id, session.data) == (None, None, {})


async def test_an_old_session_in_redis_keeps_working(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    store = RedisSessionStore(redis_client, keys, 60)
    await redis_client.hset(keys.session(8), mapping={"v": 3, "d": orjson.dumps(old_document(8))})
    session = await store.get(8)
    assert_typed(session)
    session.ticket_id = None  # e.g. the ticket closed
    saved = await store.save(session)
    assert saved.version == 4
    again = await store.get(8)
    assert again.ticket_id is None and again.conversation_id == 17 and again == saved


async def test_an_old_snapshot_in_the_transcript_rebuilds_a_typed_session(
    db: Database, backends: Backends
) -> None:
    async with db.transaction() as s:
        customer = Customer()
        s.add(customer)
        await s.flush()
        await MessageRepository(s).add_inbound(
            customer_id=customer.id,
            conversation_id=None,
            channel="telegram",
            external_user_id="42",
            platform_message_id="m1",
            text="a person please",
            session_snapshot=old_document(customer.id),
            now=utcnow(),
        )
    store = backends.sessions
    assert isinstance(store, MemorySessionStore | RedisSessionStore)
    store.recover_with(snapshot_loader(db, 3600))
    rebuilt = await store.get(customer.id)
    assert_typed(rebuilt)
    assert rebuilt.version == 3


@pytest.mark.redis
async def test_a_read_kept_in_the_block_serves_the_next_read_once(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    """Inside `reads_kept` the second read of a session is served from the first (the key is
    gone from Redis meanwhile, and it is still found); the read after that, a read after a save
    or a delete, one in a task started in the block and one outside the block go to Redis."""
    store = RedisSessionStore(redis_client, keys, 60)
    saved = await store.save(Session(5, flow="booking"))
    key = keys.session(5)
    with reads_kept():
        assert await store.get(5) == saved
        await redis_client.delete(key)
        assert await store.get(5) == saved  # kept
        assert await store.get(5) == Session(5)  # once only: read again, and gone
        first = await store.save(Session(5, flow="faq"))
        assert await store.get(5) == first  # kept again
        second = await store.save(dataclasses.replace(first, flow="order_status"))
        assert await store.get(5) == second  # the save dropped the kept "faq"
        await store.delete(5)
        assert await store.get(5) == Session(5)  # and so does a delete
        await store.save(Session(5, flow="smalltalk"))
        assert (await store.get(5)).flow == "smalltalk"
        await redis_client.delete(key)
        assert await asyncio.create_task(store.get(5)) == Session(5)  # another task's: Redis
    await store.save(Session(5, flow="booking"))
    assert (await store.get(5)).flow == "booking"
    await redis_client.delete(key)
    assert await store.get(5) == Session(5)  # outside the block nothing is kept
