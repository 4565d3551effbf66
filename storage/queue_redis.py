"""`MessageQueue` over Redis Streams, shared by several worker processes.

Layout: ``partitions`` streams; a message goes to partition ``crc32(key) % partitions``, so all
messages of one key sit in one stream, in order. Each partition is read by exactly one process
at a time, the holder of a renewable lease with a fencing token (`storage.queue_partitions`);
reads and acks check the lease in Redis, and a turn's database writes check the token
(`storage.fences`), so a process that stalled past its lease changes nothing when it wakes.
The consumer-group consumer name is the *partition number*, not the process: whoever takes a
partition over first re-reads that name's pending entries (what a killed or stalled process
had in flight), then reads new ones. Entries are acked and deleted after the handler
succeeded, so a stream holds exactly the unacked messages.

Reading a partition into the dispatcher and settling what was read (ack, dead letter) are in
`storage.queue_redis_reading`; this module keeps who reads which partition.

Processes announce themselves in a heartbeat ZSET; each holds at most
``ceil(partitions / live consumers)`` partitions and releases surplus ones (after finishing
their buffered messages) when another process appears.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import uuid
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from storage.errors import BackendUnavailable, FenceLost
from storage.fences import FenceToken
from storage.keys import PARTITION_LEASE_MS, Keys
from storage.loops import every
from storage.queue import Delivery, Handler, KeyedDispatcher
from storage.queue_partitions import OwnedPartition, PartitionLeases
from storage.queue_redis_reading import StreamReading, as_text, raise_if_cancelling

__all__ = ["RedisStreamQueue"]

log = logging.getLogger(__name__)


class RedisStreamQueue(StreamReading):
    """Partitioned Redis Streams queue with per-key ordering across processes."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        partitions: int = 8,
        group: str = "workers",
        consumer_id: str | None = None,
        lease_ms: int = PARTITION_LEASE_MS,
        max_attempts: int = 5,
        retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
        block_ms: int = 1000,
        batch: int = 100,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.partitions = partitions
        self._group = group
        self.consumer_id = (
            consumer_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self._lease_ms = lease_ms
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._block_ms = block_ms
        self._batch = batch
        self._leases = PartitionLeases(redis, keys, self.consumer_id, lease_ms)
        #: called with each new lease's fence before its partition is read (the worker
        #: advances the database's fence there, see `storage.fences`)
        self.on_fence: Callable[[FenceToken], Awaitable[int]] | None = None
        self._owned: dict[int, OwnedPartition] = {}
        # (partition, entry id, fence token) -> the ownership it was read under: entry ids repeat
        # across streams, and a partition taken again re-reads its pending entries
        self._owner_of: dict[tuple[int, str, int], OwnedPartition] = {}
        self._dispatcher: KeyedDispatcher | None = None
        self._buffer_limit = batch
        self._stopping = False
        self._side_tasks: set[asyncio.Task[None]] = set()

    @property
    def owned_partitions(self) -> frozenset[int]:
        """Partitions whose lease this process currently holds."""
        return frozenset(self._owned)

    def partition_of(self, key: str) -> int:
        """The partition of ordering key ``key`` (stable across processes and restarts)."""
        return zlib.crc32(key.encode()) % self.partitions

    async def publish(self, key: str, body: bytes) -> str:
        """See `MessageQueue.publish`."""
        stream = self._keys.stream(self.partition_of(key))
        try:
            entry_id = await self._redis.xadd(stream, {b"k": key.encode(), b"b": body})
        except RedisError as e:
            raise BackendUnavailable(f"Redis queue publish failed: {e}") from e
        return as_text(entry_id)

    async def depth(self) -> int:
        """See `MessageQueue.depth` (acked entries are deleted, so this sums XLEN)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for p in range(self.partitions):
                    pipe.xlen(self._keys.stream(p))
                lengths = await pipe.execute()
        except RedisError as e:
            raise BackendUnavailable(f"Redis queue depth failed: {e}") from e
        return sum(int(n) for n in lengths)

    async def oldest_age(self) -> float | None:
        """See `MessageQueue.oldest_age`: a stream holds exactly the unacked entries, and an
        entry id starts with the Redis server's time of its XADD, compared with that server's
        own clock (`TIME`), so the hosts' clocks do not matter."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.time()
                for p in range(self.partitions):
                    pipe.xrange(self._keys.stream(p), count=1)
                now, *firsts = await pipe.execute()
        except RedisError as e:
            raise BackendUnavailable(f"Redis queue age failed: {e}") from e
        added = [int(as_text(entries[0][0]).split("-")[0]) for entries in firsts if entries]
        if not added:
            return None
        seconds, micros = now
        return max(0.0, int(seconds) + int(micros) / 1e6 - min(added) / 1000)

    async def dead_letters(self, count: int = 100) -> list[Delivery]:
        """The oldest ``count`` dead-lettered messages (for inspection and tests)."""
        try:
            entries: Any = await self._redis.xrange(self._keys.dead_letters(), count=count)
        except RedisError as e:
            raise BackendUnavailable(f"Redis dead-letter read failed: {e}") from e
        return [
            Delivery(as_text(f[b"id"]), as_text(f[b"k"]), f[b"b"], int(f[b"attempt"]))
            for _, f in entries
        ]

    async def close(self) -> None:
        """Nothing to release: the Redis client belongs to the caller."""

    async def ensure_groups(self) -> None:
        """Create every partition stream and the consumer group, idempotently."""
        for p in range(self.partitions):
            try:
                await self._redis.xgroup_create(
                    self._keys.stream(p), self._group, id="0", mkstream=True
                )
            except ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise BackendUnavailable(f"Redis XGROUP CREATE failed: {e}") from e
            except RedisError as e:
                raise BackendUnavailable(f"Redis XGROUP CREATE failed: {e}") from e

    async def consume(self, handler: Handler, *, concurrency: int, stop: asyncio.Event) -> None:
        """See `MessageQueue.consume`.

        Cancelling this coroutine acts like a crash: nothing is acked or released, and the
        leases expire so another process takes the partitions over.
        """
        if self._dispatcher is not None:
            raise RuntimeError("consume() is already running on this queue object")
        await self.ensure_groups()
        self._stopping = False
        self._buffer_limit = max(4 * concurrency, 16)
        self._dispatcher = dispatcher = KeyedDispatcher(
            self._guarded(handler),
            concurrency=concurrency,
            max_attempts=self._max_attempts,
            on_ack=self._ack,
            on_dead=self._dead,
            on_abandon=self._settle,
            retry_delay=self._retry_delay,
            max_retry_delay=self._max_retry_delay,
        )
        quit_maintaining = asyncio.Event()
        maintainer = asyncio.create_task(self._maintain(quit_maintaining), name="queue-maintain")
        try:
            await stop.wait()
            self._stopping = True
            for owned in self._owned.values():
                owned.stop_reading.set()
            dispatcher.stop()  # readers leave what they still read pending in the stream
            await asyncio.gather(*self._readers(), return_exceptions=True)
            await dispatcher.drain()
            quit_maintaining.set()
            await maintainer
            for owned in self._owned.values():  # anything taken while stopping stops too
                owned.stop_reading.set()
            await asyncio.gather(*self._readers(), *self._side_tasks, return_exceptions=True)
            await self._release_all()
        except asyncio.CancelledError:
            for owned in self._owned.values():
                owned.stop_reading.set()
            tasks = [maintainer, *self._readers(), *self._side_tasks]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await dispatcher.cancel()
            raise
        finally:
            self._owned.clear()
            self._owner_of.clear()
            self._dispatcher = None

    def _readers(self) -> list[asyncio.Task[None]]:
        return [o.reader for o in self._owned.values() if o.reader is not None]

    # -- partition ownership -------------------------------------------------------------

    async def _maintain(self, quit_event: asyncio.Event) -> None:
        name = f"queue consumer {self.consumer_id}: heartbeat"
        await every(self._lease_ms / 3000, self._heartbeat, quit_event, name=name)

    async def _heartbeat(self) -> None:
        try:
            await self._tick()
        except RedisError as e:
            raise_if_cancelling()
            log.warning("queue consumer %s: Redis error in heartbeat: %s", self.consumer_id, e)

    async def _tick(self) -> None:
        live = await self._leases.announce()
        held = list(self._owned.values())
        for owned, renewed in zip(held, await self._leases.renew_all(held), strict=True):
            if not renewed:
                self._lose(owned)
        if self._stopping:
            return
        quota = math.ceil(self.partitions / max(1, live))
        active = sorted(p for p, o in self._owned.items() if not o.releasing)
        for p in active[quota:]:
            self._start_release(self._owned[p])
        if len(active) >= quota:
            return
        start = zlib.crc32(self.consumer_id.encode()) % self.partitions
        for i in range(self.partitions):
            p = (start + i) % self.partitions
            if p in self._owned:
                continue
            if self._stopping:
                return
            taken = await self._leases.acquire(p)
            if taken is not None:
                if self._stopping:
                    # stop came while the lease was being taken: no reader would be stopped
                    await self._leases.release(taken)
                    return
                self._take(taken)
                active.append(p)
                if len(active) >= quota:
                    return

    async def _fence(self, owned: OwnedPartition) -> bool:
        """Advance the fence of a lease just taken: from now on, work read under an older
        lease of the partition cannot commit. When that fails the lease is given up (another
        process, or this one later, takes the partition again) and False returned."""
        if self.on_fence is None:
            return True
        try:
            stored = await self.on_fence(owned.fence)
            if stored > owned.token:
                # Redis lost the partition's counter (a restart without persistence): the
                # database remembers a newer token. Move the counter past it and take the
                # partition again under a token that is current.
                log.warning(
                    "partition %d: fence counter %d is behind the database's %d (Redis lost "
                    "its data?); taking the partition again under a newer token",
                    owned.partition,
                    owned.token,
                    stored,
                )
                await self._leases.catch_up(owned.partition, stored)
        except Exception:
            raise_if_cancelling()
            log.exception("partition %d: storing fence %d failed", owned.partition, owned.token)
            stored = owned.token + 1
        if stored <= owned.token:
            return True
        owned.stop_reading.set()
        if self._owned.get(owned.partition) is owned:
            del self._owned[owned.partition]
        await self._leases.release(owned)
        return False

    def _take(self, owned: OwnedPartition) -> None:
        owned.idle.set()
        owned.reader = asyncio.create_task(self._read(owned), name=f"queue-read:{owned.partition}")
        self._owned[owned.partition] = owned
        log.info(
            "queue consumer %s took partition %d (fence %d)",
            self.consumer_id,
            owned.partition,
            owned.token,
        )

    def _lose(self, owned: OwnedPartition) -> None:
        """The lease passed to another process: stop reading; buffered deliveries of the
        partition are abandoned when their turn comes (`_guarded`). Logged once."""
        if owned.lost:
            return
        log.error(
            "queue consumer %s lost the lease of partition %d (fence %d); its unfinished "
            "messages are left to the new holder",
            self.consumer_id,
            owned.partition,
            owned.token,
        )
        owned.lost = True
        owned.stop_reading.set()
        if self._owned.get(owned.partition) is owned:
            del self._owned[owned.partition]

    def _guarded(self, handler: Handler) -> Handler:
        async def guarded(delivery: Delivery) -> None:
            owned = self._owner_of.get(self._slot(delivery))
            if owned is not None and owned.lost:
                raise FenceLost(f"partition lease {delivery.fence} was lost before the turn")
            await handler(delivery)

        return guarded

    def _start_release(self, owned: OwnedPartition) -> None:
        owned.releasing = True
        owned.stop_reading.set()
        task = asyncio.create_task(
            self._release_when_idle(owned), name=f"queue-release:{owned.partition}"
        )
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _release_when_idle(self, owned: OwnedPartition) -> None:
        if owned.reader is not None:
            await asyncio.gather(owned.reader, return_exceptions=True)
        await owned.idle.wait()
        if self._owned.get(owned.partition) is owned:
            del self._owned[owned.partition]
            await self._leases.release(owned)
            log.info("queue consumer %s released partition %d", self.consumer_id, owned.partition)

    async def _release_all(self) -> None:
        for owned in list(self._owned.values()):
            await self._leases.release(owned)
        with contextlib.suppress(RedisError):
            await self._leases.retire()
