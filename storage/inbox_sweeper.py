"""Puts accepted but unprocessed inbox rows back on the queue, in accepted order per key.

Runs in every process that has a worker. Two duties:

1. **Restore a lost partition** (every ``interval``). A partition without its restored mark
   (see `storage.inbox_queue`: Redis restarted without persistence, or this is a new process
   with a memory queue) gets every unprocessed row of its keys back, in accepted order, in the
   same atomic step that sets the mark again. Until then the gateway's offers to that partition
   are refused (a gateway so refused runs this restore itself, then offers again), so **no
   message accepted after the loss can be processed before a lost one of the same customer**.
   Rows that were in fact processed already (in flight when Redis went away, or marked done
   late) go back too: they carry the "swept" flag, and the worker treats them as redeliveries,
   finding them in the transcript without a new turn.
2. **Sweep stale rows** (every ``grace / 4``). A row still unprocessed ``grace`` seconds after it
   was accepted while its partition kept its mark was dropped some other way (a gateway that
   died between its commit and its publish, a message that failed past the dead-letter limit).
   Then *all* unprocessed rows of that customer's key go back together, in accepted order, again
   flagged, so the worker skips those that were done. Order holds among the rows put back; a
   newer message that was published normally and processed before the stale row was noticed
   cannot be un-processed, and that case is the one left (it needs a gateway crash inside a
   ~1 ms window, or a delivery failing five times). A row swept ``max_sweeps`` times is given up
   with an ERROR line, so a message that always fails cannot circle forever.

Rows processed longer ago than ``keep_done`` (the duplicate window) are pruned.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict

from storage.errors import StorageError
from storage.inbox import Inbox, InboxRow, mark_swept
from storage.inbox_queue import WorkQueue
from storage.loops import every
from storage.models import utcnow

__all__ = ["InboxSweeper"]

log = logging.getLogger(__name__)

PRUNE_EVERY = 600.0


class InboxSweeper:
    """Restores lost queue partitions and re-enqueues stale rows from the inbox."""

    def __init__(
        self,
        inbox: Inbox,
        queue: WorkQueue,
        *,
        grace: float,
        interval: float = 1.0,
        max_sweeps: int = 5,
        keep_done: float = 48 * 3600,
    ) -> None:
        self.inbox = inbox
        self.queue = queue
        self.grace = dt.timedelta(seconds=grace)
        self.interval = interval
        self.max_sweeps = max_sweeps
        self.keep_done = dt.timedelta(seconds=keep_done)

    async def restore_lost(self) -> set[int]:
        """Refill every partition that lost its mark; returns the ids of the rows put back.

        The gateway calls this too when an offer finds a partition lost, so no worker needs to
        be running for webhooks to be taken after a Redis restart.
        """
        lost = await self.queue.lost()
        if not lost:
            return set()
        by_partition: dict[int, list[InboxRow]] = defaultdict(list)
        for row in await self.inbox.pending():
            by_partition[self.queue.partition_of(row.ordering_key)].append(row)
        restored: set[int] = set()
        for p in lost:
            rows = by_partition.get(p, [])
            items = [(r.ordering_key, mark_swept(r.body)) for r in rows]
            if await self.queue.restore(p, items):
                restored.update(r.id for r in rows)
                if rows:
                    log.warning(
                        "inbox: queue partition %d had lost its messages; %d accepted and "
                        "unprocessed messages put back from the inbox",
                        p,
                        len(rows),
                    )
        return restored

    async def sweep_stale(self, now: dt.datetime | None = None) -> int:
        """Re-enqueue the keys that have a row older than the grace period; returns rows sent."""
        cutoff = (now or utcnow()) - self.grace
        rows = await self.inbox.pending()
        stale = [r for r in rows if r.accepted_at < cutoff]
        if not stale:
            return 0
        give_up = [r for r in stale if r.sweeps >= self.max_sweeps]
        for r in give_up:
            log.error(
                "inbox: row %d (key %s) was put back %d times and is still unprocessed; "
                "giving up on it",
                r.id,
                r.ordering_key,
                r.sweeps,
            )
        dropped = {r.id for r in give_up}
        keys = {r.ordering_key for r in stale if r.id not in dropped}
        again = [r for r in rows if r.ordering_key in keys and r.id not in dropped]
        results = await self.queue.put_back([(r.ordering_key, mark_swept(r.body)) for r in again])
        sent = [r.id for r, res in zip(again, results, strict=True) if res == "queued"]
        await self.inbox.swept(sent, give_up=sorted(dropped))
        if sent:
            log.warning(
                "inbox: %d unprocessed messages of %d customers put back on the queue",
                len(sent),
                len(keys),
            )
        return len(sent)

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every ``interval`` (the first after one) until ``stop`` is set; errors are
        logged and the next round tries again."""
        loop = asyncio.get_running_loop()
        stale_every = max(self.interval, self.grace.total_seconds() / 4)
        next_stale = loop.time() + stale_every
        next_prune = loop.time()

        async def one_round() -> None:
            nonlocal next_stale, next_prune
            try:
                await self.restore_lost()
                if loop.time() >= next_stale:
                    next_stale = loop.time() + stale_every
                    await self.sweep_stale()
                if loop.time() >= next_prune:
                    next_prune = loop.time() + PRUNE_EVERY
                    await self.inbox.prune(utcnow() - self.keep_done)
            except StorageError as e:
                log.warning("inbox sweeper: %s; trying again", e)

        await every(self.interval, one_round, stop, name="inbox sweeper", at_once=False)
