"""One place that opens the non-relational backends: memory by default, Redis when configured."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from storage.dedup import DuplicateFilter, MemoryDuplicateFilter, RedisDuplicateFilter
from storage.keys import (
    DEDUP_TTL_SECONDS,
    LOCK_LEASE_MS,
    PARTITION_LEASE_MS,
    SESSION_TTL_SECONDS,
    Keys,
)
from storage.locks import CustomerLocks, MemoryCustomerLocks, RedisCustomerLocks
from storage.mailbox import MemoryReplyMailbox, RedisReplyMailbox, ReplyMailbox
from storage.queue import MessageQueue
from storage.queue_memory import MemoryQueue
from storage.queue_redis import RedisStreamQueue
from storage.redis import connect_redis
from storage.sessions import MemorySessionStore, RedisSessionStore, SessionStore

__all__ = ["Backends", "open_backends"]


@dataclass
class Backends:
    """Sessions, queue, dedup, locks and reply mailbox of one process."""

    sessions: SessionStore
    queue: MessageQueue
    dedup: DuplicateFilter
    locks: CustomerLocks
    mailbox: ReplyMailbox
    redis: aioredis.Redis | None = None
    keys: Keys | None = None

    async def close(self) -> None:
        """Close the queue, the mailbox subscription and the Redis client (if any)."""
        await self.queue.close()
        if isinstance(self.mailbox, (MemoryReplyMailbox, RedisReplyMailbox)):
            await self.mailbox.close()
        if self.redis is not None:
            await self.redis.aclose()


async def open_backends(
    redis_url: str | None,
    *,
    keys_prefix: str = "omnirelay",
    session_ttl: float = SESSION_TTL_SECONDS,
    dedup_ttl: float = DEDUP_TTL_SECONDS,
    partitions: int = 8,
    consumer_id: str | None = None,
    lease_ms: int = PARTITION_LEASE_MS,
    max_attempts: int = 5,
    lock_lease_ms: int = LOCK_LEASE_MS,
) -> Backends:
    """In-memory backends when ``redis_url`` is None, Redis ones otherwise.

    Raises `BackendUnavailable` when Redis cannot be reached.
    """
    node_id = consumer_id or uuid.uuid4().hex
    if redis_url is None:
        return Backends(
            sessions=MemorySessionStore(session_ttl),
            queue=MemoryQueue(max_attempts=max_attempts),
            dedup=MemoryDuplicateFilter(dedup_ttl),
            locks=MemoryCustomerLocks(),
            mailbox=MemoryReplyMailbox(node_id),
        )
    redis = await connect_redis(redis_url)
    keys = Keys(keys_prefix)
    mailbox = RedisReplyMailbox(redis, keys, node_id)
    try:
        await mailbox.start()
    except BaseException:
        await redis.aclose()
        raise
    return Backends(
        sessions=RedisSessionStore(redis, keys, session_ttl),
        queue=RedisStreamQueue(
            redis,
            keys,
            partitions=partitions,
            consumer_id=consumer_id,
            lease_ms=lease_ms,
            max_attempts=max_attempts,
        ),
        dedup=RedisDuplicateFilter(redis, keys, dedup_ttl),
        locks=RedisCustomerLocks(redis, keys, lease_ms=lock_lease_ms),
        mailbox=mailbox,
        redis=redis,
        keys=keys,
    )
