"""SessionStore contract, against memory and Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from storage.errors import StaleSession
from storage.keys import Keys
from storage.sessions import MemorySessionStore, RedisSessionStore, Session, SessionStore
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
