"""In-process `MessageQueue` for the single-process default deployment and tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field

from storage.errors import StorageError
from storage.queue import Delivery, Handler, KeyedDispatcher

__all__ = ["MemoryQueue"]


@dataclass
class _Message:
    key: str
    body: bytes
    deliveries: int = 0
    published: float = field(default_factory=time.monotonic)


class MemoryQueue:
    """Messages live in this process until acked; one `consume` call at a time.

    A message left unacked when `consume` returns (stop during a retry backoff) is delivered
    again, in order, by the next `consume` call. Keys are counted per partition (``crc32(key) %
    partitions``, as the Redis queue places them) so a caller can bound each partition's depth;
    ``high_water`` is the largest depth seen.
    """

    def __init__(
        self,
        *,
        max_attempts: int = 5,
        retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
        partitions: int = 1,
    ) -> None:
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._ids = itertools.count(1)
        self._unacked: dict[str, _Message] = {}  # publish order
        self._fresh: deque[str] = deque()  # not yet handed to the running consumer
        self._wakeup = asyncio.Event()
        self._consuming = False
        self.dead_letters: list[Delivery] = []
        self.partitions = partitions
        self._per_partition: Counter[int] = Counter()
        self.high_water = 0

    def repartition(self, partitions: int) -> None:
        """Count keys in ``partitions`` partitions from now on (only while the queue is empty)."""
        if self._unacked:
            raise StorageError("cannot repartition a queue that holds messages")
        self.partitions = partitions
        self._per_partition.clear()

    def partition_of(self, key: str) -> int:
        """The partition ``key`` is counted in."""
        return zlib.crc32(key.encode()) % self.partitions

    def partition_depth(self, partition: int) -> int:
        """Messages of ``partition`` published but not yet acked."""
        return self._per_partition[partition]

    async def publish(self, key: str, body: bytes) -> str:
        """See `MessageQueue.publish`."""
        msg_id = str(next(self._ids))
        self._unacked[msg_id] = _Message(key, body)
        self._per_partition[self.partition_of(key)] += 1
        self.high_water = max(self.high_water, len(self._unacked))
        self._fresh.append(msg_id)
        self._wakeup.set()
        return msg_id

    async def depth(self) -> int:
        """See `MessageQueue.depth`."""
        return len(self._unacked)

    async def oldest_age(self) -> float | None:
        """See `MessageQueue.oldest_age` (the dict keeps publish order: the first is oldest)."""
        for msg in self._unacked.values():
            return time.monotonic() - msg.published
        return None

    async def close(self) -> None:
        """Nothing to release."""

    async def consume(self, handler: Handler, *, concurrency: int, stop: asyncio.Event) -> None:
        """See `MessageQueue.consume`."""
        if self._consuming:
            raise StorageError("MemoryQueue supports one consume() call at a time")
        self._consuming = True
        dispatcher = KeyedDispatcher(
            handler,
            concurrency=concurrency,
            max_attempts=self._max_attempts,
            on_ack=self._ack,
            on_dead=self._dead,
            retry_delay=self._retry_delay,
            max_retry_delay=self._max_retry_delay,
        )
        self._fresh = deque(self._unacked)  # redeliver whatever an earlier run left behind
        relay = asyncio.create_task(self._relay(stop))
        try:
            while not stop.is_set():
                self._wakeup.clear()
                while self._fresh:
                    msg_id = self._fresh.popleft()
                    msg = self._unacked.get(msg_id)
                    if msg is not None:
                        msg.deliveries += 1
                        dispatcher.submit(Delivery(msg_id, msg.key, msg.body, msg.deliveries))
                await self._wakeup.wait()
            dispatcher.stop()
            await dispatcher.drain()
        except asyncio.CancelledError:
            await dispatcher.cancel()
            raise
        finally:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
            self._consuming = False

    async def _relay(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wakeup.set()

    async def _ack(self, delivery: Delivery) -> None:
        self._forget(delivery.id)

    async def _dead(self, delivery: Delivery) -> None:
        self.dead_letters.append(delivery)
        self._forget(delivery.id)

    def _forget(self, msg_id: str) -> None:
        msg = self._unacked.pop(msg_id, None)
        if msg is not None:
            self._per_partition[self.partition_of(msg.key)] -= 1
