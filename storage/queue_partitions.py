"""Leases on the Redis queue's partitions, each with a fencing token, and the fenced stream
operations (read and ack) that only the current holder can perform.

A process takes a free partition with `PartitionLeases.acquire` (``SET NX PX`` plus ``INCR``
of the partition's fence counter, in one script); the lease key then holds
``"<consumer>:<token>"``. Renewal, release, reading and acking each compare that value in
the same Lua script as their effect, so a process that stalled past its lease (its renewals
stopped) can no longer read, ack or renew: the next holder has a larger token, and every
database write of a turn is checked against it too (`storage.fences`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from storage.fences import FenceToken
from storage.keys import Keys
from storage.lua import (
    ACK_FENCED,
    ACQUIRE_FENCED,
    RAISE_TO,
    READ_FENCED,
    RELEASE_IF_OWNER,
    RENEW_IF_OWNER,
)

__all__ = ["Entry", "OwnedPartition", "PartitionLeases"]

log = logging.getLogger(__name__)

#: A stream entry as read: id and fields (None when it was deleted while pending).
Entry = tuple[bytes, dict[bytes, bytes] | None]


@dataclass
class OwnedPartition:
    """A partition this process holds the lease of, under fencing token ``token``."""

    partition: int
    token: int
    holder: str  # the lease key's value while this process holds it: "<consumer>:<token>"
    fence: FenceToken
    stop_reading: asyncio.Event = field(default_factory=asyncio.Event)
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    outstanding: int = 0
    releasing: bool = False
    lost: bool = False
    reader: asyncio.Task[None] | None = None


class PartitionLeases:
    """One process's leases on a queue's partitions, and its presence among the consumers."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, consumer_id: str, lease_ms: int) -> None:
        self._redis = redis
        self._keys = keys
        self.consumer_id = consumer_id
        self.lease_ms = lease_ms
        self._acquire = redis.register_script(ACQUIRE_FENCED)
        self._renew = redis.register_script(RENEW_IF_OWNER)
        self._release = redis.register_script(RELEASE_IF_OWNER)
        self._read = redis.register_script(READ_FENCED)
        self._ack = redis.register_script(ACK_FENCED)
        self._catch_up = redis.register_script(RAISE_TO)

    def fence_of(self, partition: int, token: int) -> FenceToken:
        """The fence of ``partition``'s lease number ``token`` (scoped by the key prefix)."""
        return FenceToken(f"{self._keys.prefix}:q:{partition}", token)

    async def announce(self) -> int:
        """Heartbeat in the consumers ZSET, dropping silent ones; the number of live consumers."""
        now_ms = int(time.time() * 1000)
        consumers = self._keys.consumers()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(consumers, {self.consumer_id: now_ms})
            pipe.zremrangebyscore(consumers, "-inf", now_ms - self.lease_ms)
            pipe.zcard(consumers)
            pipe.pexpire(consumers, self.lease_ms * 10)
            _, _, live, _ = await pipe.execute()
        return int(live)

    async def retire(self) -> None:
        """Leave the consumers ZSET (shutdown)."""
        await self._redis.zrem(self._keys.consumers(), self.consumer_id)

    async def acquire(self, partition: int) -> OwnedPartition | None:
        """Take ``partition`` if its lease is free, with the next fencing token."""
        token = int(
            await self._acquire(
                keys=[self._keys.partition_lease(partition), self._keys.partition_fence(partition)],
                args=[self.consumer_id, self.lease_ms],
            )
        )
        if not token:
            return None
        holder = f"{self.consumer_id}:{token}"
        return OwnedPartition(partition, token, holder, self.fence_of(partition, token))

    async def renew(self, owned: OwnedPartition) -> bool:
        """Extend the lease; False when it has passed to another holder."""
        return bool(
            await self._renew(
                keys=[self._keys.partition_lease(owned.partition)],
                args=[owned.holder, self.lease_ms],
            )
        )

    async def catch_up(self, partition: int, token: int) -> None:
        """Raise the partition's fence counter to at least ``token`` (after a data loss)."""
        await self._catch_up(keys=[self._keys.partition_fence(partition)], args=[token])

    async def renew_all(self, owned: list[OwnedPartition]) -> list[bool]:
        """`renew` for many partitions in one round trip (a busy event loop must not let the
        first leases run out while it renews the last)."""
        if not owned:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for o in owned:
                await self._renew(
                    keys=[self._keys.partition_lease(o.partition)],
                    args=[o.holder, self.lease_ms],
                    client=pipe,
                )
            return [bool(r) for r in await pipe.execute()]

    async def release(self, owned: OwnedPartition) -> None:
        """Give the lease up (when still ours); a failure only delays the next holder."""
        try:
            await self._release(
                keys=[self._keys.partition_lease(owned.partition)], args=[owned.holder]
            )
        except RedisError as e:
            log.warning(
                "releasing lease of partition %d failed (it will expire): %s", owned.partition, e
            )

    async def read(
        self, owned: OwnedPartition, group: str, count: int, start: bytes | str
    ) -> tuple[list[Entry], bytes] | None:
        """XREADGROUP under the lease: entries from ``start`` (``">"``: new ones) and the
        stream's last generated id; None when the lease is lost.

        The consumer name is the partition number: a new holder re-reads what the previous
        one left pending under it.
        """
        got: Any = await self._read(
            keys=[
                self._keys.partition_lease(owned.partition),
                self._keys.stream(owned.partition),
            ],
            args=[owned.holder, group, str(owned.partition), count, start],
        )
        if got is None:
            return None
        return [(entry_id, _fields(flat)) for entry_id, flat in got[0]], got[1]

    async def wait_for_new(self, partition: int, after: bytes, block_ms: int) -> None:
        """Block until the stream has an entry newer than ``after`` (or ``block_ms`` passed).

        A plain XREAD takes nothing: a blocking XREADGROUP would let Redis hand new entries
        to this process's socket while the process is stalled and its lease has passed on.
        """
        await self._redis.xread({self._keys.stream(partition): after}, count=1, block=block_ms)

    async def ack(self, partition: int, holder: str, group: str, entry_id: str) -> bool:
        """XACK + XDEL under the lease; False (nothing done) when the lease is lost."""
        return bool(
            await self._ack(
                keys=[self._keys.partition_lease(partition), self._keys.stream(partition)],
                args=[holder, group, entry_id],
            )
        )


def _fields(flat: list[bytes] | None) -> dict[bytes, bytes] | None:
    """An entry's field list as Lua returns it (flat, or nil when deleted) as a dict."""
    if not flat:
        return None
    return dict(zip(flat[::2], flat[1::2], strict=True))
