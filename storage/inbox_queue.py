"""What the inbox needs from the queue: bounded offers, and knowing when the queue lost work.

Each queue partition carries a *restored* mark: on Redis a key next to the partition's stream
(same hash slot), in memory a flag per partition of this process's queue. The gateway's offer
succeeds only while the mark is there, checked atomically with the append (one Lua script), and
only while the partition is below its bound. A Redis restart without persistence (or a fresh
process, for the memory queue) loses the marks together with the messages, so from then on no
new message can overtake the lost ones: offers are refused until every unprocessed inbox row of
the partition is back, in accepted order, with the mark set again in the same script
(`restore`; run by the sweeper, or by the gateway whose offer was refused). See
`storage.inbox_sweeper`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import BackendUnavailable
from storage.inbox import InboxBusy
from storage.keys import Keys
from storage.queue_memory import MemoryQueue
from storage.queue_redis import RedisStreamQueue

__all__ = ["MemoryWorkQueue", "Offer", "QueueBounds", "RedisWorkQueue", "WorkQueue", "work_queue"]

Offer = Literal["queued", "full", "lost"]
Item = tuple[str, bytes]  # (ordering key, body)


@dataclass(frozen=True, slots=True)
class QueueBounds:
    """Backpressure: most messages in the queue in total and per partition (0: unbounded)."""

    total: int = 0
    per_partition: int = 0
    retry_after: float = 5.0  # what a refused webhook tells the platform


class WorkQueue(Protocol):
    """The queue as the gateway and the inbox sweeper use it."""

    partitions: int
    bounds: QueueBounds

    def partition_of(self, key: str) -> int: ...

    async def check_room(self) -> None:
        """Raise `InboxBusy` when the queue is over its total bound."""
        ...

    async def offer(self, items: Sequence[Item]) -> list[Offer]:
        """Append each item unless its partition is full or lost; raises `BackendUnavailable`."""
        ...

    async def put_back(self, items: Sequence[Item]) -> list[Offer]:
        """Append each item regardless of bounds, unless its partition is lost."""
        ...

    async def lost(self) -> list[int]:
        """Partitions without their restored mark."""
        ...

    async def restore(self, partition: int, items: Sequence[Item]) -> bool:
        """Append ``items`` and set the mark, atomically; False when the mark was there."""
        ...


class MemoryWorkQueue:
    """`WorkQueue` over this process's `MemoryQueue`; a new process starts with every partition
    lost (whatever an earlier process held died with it)."""

    def __init__(self, queue: MemoryQueue, bounds: QueueBounds) -> None:
        self.queue = queue
        self.bounds = bounds
        self.partitions = queue.partitions
        self._restored: set[int] = set()

    def partition_of(self, key: str) -> int:
        return self.queue.partition_of(key)

    async def check_room(self) -> None:
        _check_total(await self.queue.depth(), self.bounds)

    async def offer(self, items: Sequence[Item]) -> list[Offer]:
        out: list[Offer] = []
        total, per = self.bounds.total, self.bounds.per_partition
        for key, body in items:  # no await between check and publish: atomic in this loop
            p = self.partition_of(key)
            if p not in self._restored:
                out.append("lost")
            elif (total and await self.queue.depth() >= total) or (
                per and self.queue.partition_depth(p) >= per
            ):
                out.append("full")
            else:
                await self.queue.publish(key, body)
                out.append("queued")
        return out

    async def put_back(self, items: Sequence[Item]) -> list[Offer]:
        out: list[Offer] = []
        for key, body in items:
            if self.partition_of(key) not in self._restored:
                out.append("lost")
                continue
            await self.queue.publish(key, body)
            out.append("queued")
        return out

    async def lost(self) -> list[int]:
        return [p for p in range(self.partitions) if p not in self._restored]

    async def restore(self, partition: int, items: Sequence[Item]) -> bool:
        if partition in self._restored:
            return False
        for key, body in items:
            await self.queue.publish(key, body)
        self._restored.add(partition)
        return True


# KEYS: stream, mark. ARGV: key, body, bound (0: none). The entry id; -1 lost; -2 full.
_OFFER = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local bound = tonumber(ARGV[3])
if bound > 0 and redis.call('XLEN', KEYS[1]) >= bound then return -2 end
return redis.call('XADD', KEYS[1], '*', 'k', ARGV[1], 'b', ARGV[2])
"""

# KEYS: stream, mark. ARGV: key1, body1, key2, body2, ... 1 restored; 0 the mark was there.
_RESTORE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 1, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'b', ARGV[i + 1])
end
redis.call('SET', KEYS[2], '1')
return 1
"""


class RedisWorkQueue:
    """`WorkQueue` over the Redis streams of a `RedisStreamQueue`.

    Appends entries in the stream queue's own format (fields ``k`` and ``b``, see
    `RedisStreamQueue.publish`). The total bound is checked against a depth read at most every
    ``depth_ttl`` seconds (one pipeline over all partitions), so it may be passed by what
    arrives within that time; the per-partition bound is exact (checked in the script).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        queue: RedisStreamQueue,
        bounds: QueueBounds,
        *,
        depth_ttl: float = 0.25,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._queue = queue
        self.bounds = bounds
        self.partitions = queue.partitions
        self._offer = redis.register_script(_OFFER)
        self._restore = redis.register_script(_RESTORE)
        self._depth_ttl = depth_ttl
        self._depth_at = -1e9
        self._depth = 0

    def partition_of(self, key: str) -> int:
        return self._queue.partition_of(key)

    def mark_key(self, partition: int) -> str:
        """The restored mark of ``partition`` (the stream's hash tag: one slot with it)."""
        return f"{self._keys.stream(partition)}:restored"

    async def check_room(self) -> None:
        if not self.bounds.total:
            return
        now = time.monotonic()
        if now - self._depth_at > self._depth_ttl:
            self._depth = await self._queue.depth()
            self._depth_at = now
        _check_total(self._depth, self.bounds)

    async def offer(self, items: Sequence[Item]) -> list[Offer]:
        return await self._append(items, self.bounds.per_partition)

    async def put_back(self, items: Sequence[Item]) -> list[Offer]:
        return await self._append(items, 0)

    async def _append(self, items: Sequence[Item], bound: int) -> list[Offer]:
        if not items:
            return []
        try:
            if len(items) == 1:  # a webhook's usual one event: one EVALSHA, no pipeline (whose
                # execute first asks SCRIPT EXISTS: a second round trip per message)
                key, body = items[0]
                p = self.partition_of(key)
                keys = [self._keys.stream(p), self.mark_key(p)]
                return [_offer_result(await self._offer(keys=keys, args=[key, body, bound]))]
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, body in items:
                    p = self.partition_of(key)
                    await self._offer(
                        keys=[self._keys.stream(p), self.mark_key(p)],
                        args=[key, body, bound],
                        client=pipe,
                    )
                results: list[Any] = await pipe.execute()
        except RedisError as e:
            raise BackendUnavailable(f"Redis queue publish failed: {e}") from e
        return [_offer_result(r) for r in results]

    async def lost(self) -> list[int]:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for p in range(self.partitions):
                    pipe.exists(self.mark_key(p))
                present = await pipe.execute()
        except RedisError as e:
            raise BackendUnavailable(f"Redis queue marks unreadable: {e}") from e
        return [p for p, n in enumerate(present) if not n]

    async def restore(self, partition: int, items: Sequence[Item]) -> bool:
        args: list[Any] = []
        for key, body in items:
            args += [key, body]
        try:
            done = await self._restore(
                keys=[self._keys.stream(partition), self.mark_key(partition)], args=args
            )
        except RedisError as e:
            raise BackendUnavailable(f"Redis queue restore failed: {e}") from e
        return bool(done)


def _offer_result(value: Any) -> Offer:
    if isinstance(value, int):
        return "lost" if value == -1 else "full"
    return "queued"


def _check_total(depth: int, bounds: QueueBounds) -> None:
    if bounds.total and depth >= bounds.total:
        raise InboxBusy(f"queue holds {depth} messages (bound {bounds.total})", bounds.retry_after)


def work_queue(
    queue: Any, redis: aioredis.Redis | None, keys: Keys | None, bounds: QueueBounds
) -> WorkQueue:
    """The `WorkQueue` for a backends' queue (memory or Redis streams)."""
    if isinstance(queue, MemoryQueue):
        return MemoryWorkQueue(queue, bounds)
    if isinstance(queue, RedisStreamQueue) and redis is not None and keys is not None:
        return RedisWorkQueue(redis, keys, queue, bounds)
    raise TypeError(f"no inbox support for {type(queue).__name__}")
