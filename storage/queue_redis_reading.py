"""The half of `storage.queue_redis.RedisStreamQueue` that moves entries: reading a held
partition's stream into the dispatcher (its own unacked entries first, then new ones, fenced
by the lease) and settling each delivery after the handler (ack, or dead letter).

A mixin: the state is the queue's (set in `RedisStreamQueue.__init__`); partition ownership
(leases, fencing tokens, rebalancing) stays in `storage.queue_redis`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from storage.keys import DEAD_LETTER_MAXLEN, Keys
from storage.loops import wait_event
from storage.queue import Delivery, KeyedDispatcher
from storage.queue_partitions import Entry, OwnedPartition, PartitionLeases

log = logging.getLogger("storage.queue_redis")  # the queue's own: its log lines keep their name


class StreamReading:
    """Reading and settling, over the queue's state (declared here, set by the queue)."""

    _redis: aioredis.Redis
    _keys: Keys
    _group: str
    _batch: int
    _block_ms: int
    _buffer_limit: int
    _leases: PartitionLeases
    _dispatcher: KeyedDispatcher | None
    _owner_of: dict[tuple[int, str, int], OwnedPartition]
    consumer_id: str

    # ---- provided by the queue (partition ownership) -------------------------------------

    async def _fence(self, owned: OwnedPartition) -> bool:
        raise NotImplementedError

    def _lose(self, owned: OwnedPartition) -> None:
        raise NotImplementedError

    async def ensure_groups(self) -> None:
        raise NotImplementedError

    def partition_of(self, key: str) -> int:
        raise NotImplementedError

    # -- reading ---------------------------------------------------------------------------

    async def _read(self, owned: OwnedPartition) -> None:
        """Read the partition for the dispatcher while its lease is ours (fenced reads)."""
        # The fence is advanced here, not while taking the lease: the heartbeat that renews
        # the other leases must not wait for the database.
        if not await self._fence(owned):
            return
        stream = self._keys.stream(owned.partition)
        name = str(owned.partition)
        last: bytes | str = "0"  # first the entries this consumer name left unacked
        drained_at: bytes | None = None  # the last read took the stream's newest entry
        while not owned.stop_reading.is_set():
            assert self._dispatcher is not None
            await self._dispatcher.wait_below(self._buffer_limit)
            if owned.stop_reading.is_set():
                return
            room = max(1, min(self._batch, self._buffer_limit - self._dispatcher.buffered))
            try:
                if drained_at is not None:
                    # nothing newer was there: wait for it instead of reading nothing first
                    # (one round trip less per wake-up)
                    newest, drained_at = drained_at, None
                    await self._wait_for_new(owned, newest)
                    continue
                got = await self._leases.read(owned, self._group, room, last)
                if got is None:
                    self._lose(owned)
                    return
                entries, newest = got
                if not entries:
                    if last != ">":
                        last = ">"
                    else:  # wait for an entry newer than any the group has been given
                        await self._wait_for_new(owned, newest)
                    continue
                counts = await self._delivery_counts(stream, name, entries) if last != ">" else {}
            except RedisError as e:
                raise_if_cancelling()
                if "NOGROUP" in str(e):
                    await self.ensure_groups()
                    continue
                log.warning("queue partition %d read failed: %s", owned.partition, e)
                await wait_event(owned.stop_reading, 1.0)
                continue
            if last != ">":
                last = entries[-1][0]
            elif entries[-1][0] == newest:
                drained_at = newest
            await self._submit(owned, stream, entries, counts)

    async def _wait_for_new(self, owned: OwnedPartition, newest: bytes) -> None:
        """Block for new entries, but return at once when reading stops (shutdown, release):
        an idle process exits without waiting out the blocking read."""
        wait = asyncio.ensure_future(
            self._leases.wait_for_new(owned.partition, newest, self._block_ms)
        )
        stop = asyncio.ensure_future(owned.stop_reading.wait())
        try:
            await asyncio.wait({wait, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (wait, stop):
                task.cancel()
            await asyncio.gather(wait, stop, return_exceptions=True)
        error = wait.exception() if wait.done() and not wait.cancelled() else None
        if error is not None:
            raise error  # a Redis error is handled by the read loop

    async def _delivery_counts(
        self, stream: str, name: str, entries: list[Entry]
    ) -> dict[bytes, int]:
        if not entries:
            return {}
        rows: list[dict[str, Any]] = await self._redis.xpending_range(
            stream,
            self._group,
            min=entries[0][0],
            max=entries[-1][0],
            count=len(entries),
            consumername=name,
        )
        return {row["message_id"]: int(row["times_delivered"]) for row in rows}

    async def _submit(
        self,
        owned: OwnedPartition,
        stream: str,
        entries: list[Entry],
        counts: dict[bytes, int],
    ) -> None:
        assert self._dispatcher is not None
        if self._dispatcher.stopping or owned.lost:
            return  # left pending under this partition's consumer name: redelivered later
        for entry_id, fields in entries:
            if not fields:  # deleted while pending: nothing to deliver
                await self._redis.xack(stream, self._group, entry_id)
                continue
            owned.outstanding += 1
            owned.idle.clear()
            self._owner_of[owned.partition, as_text(entry_id), owned.token] = owned
            key = as_text(fields[b"k"])
            self._dispatcher.submit(
                Delivery(
                    as_text(entry_id),
                    key,
                    fields[b"b"],
                    counts.get(entry_id, 1),
                    owned.fence,
                )
            )

    # -- settling --------------------------------------------------------------------------

    async def _ack(self, delivery: Delivery) -> None:
        p = self.partition_of(delivery.key)
        owned = self._owner_of.get(self._slot(delivery))
        holder = owned.holder if owned is not None else ""
        try:
            acked = await self._leases.ack(p, holder, self._group, delivery.id)
        except RedisError as e:
            log.error(
                "ack of key=%s id=%s failed, it will be redelivered: %s",
                delivery.key,
                delivery.id,
                e,
            )
        else:
            if not acked:
                # its turn is stored: the new holder finds it done and only re-sends what is
                # still unsent
                log.info(
                    "not acking key=%s id=%s: partition %d changed hands",
                    delivery.key,
                    delivery.id,
                    p,
                )
        await self._settle(delivery)

    async def _dead(self, delivery: Delivery) -> None:
        fields: dict[Any, Any] = {
            b"k": delivery.key,
            b"b": delivery.body,
            b"id": delivery.id,
            b"attempt": delivery.attempt,
            b"consumer": self.consumer_id,
        }
        try:
            await self._redis.xadd(
                self._keys.dead_letters(), fields, maxlen=DEAD_LETTER_MAXLEN, approximate=True
            )
        except RedisError as e:
            log.error("dead-lettering key=%s id=%s failed: %s", delivery.key, delivery.id, e)
            await self._settle(delivery)  # leave it pending: it is retried after a takeover
            return
        await self._ack(delivery)

    def _slot(self, delivery: Delivery) -> tuple[int, str, int]:
        token = delivery.fence.token if delivery.fence is not None else 0
        return self.partition_of(delivery.key), delivery.id, token

    async def _settle(self, delivery: Delivery) -> None:
        owned = self._owner_of.pop(self._slot(delivery), None)
        if owned is None:
            return
        owned.outstanding -= 1
        if owned.outstanding <= 0:
            owned.outstanding = 0
            owned.idle.set()


def raise_if_cancelling() -> None:
    """redis-py may turn a cancelled command into a connection error; keep the cancellation."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
