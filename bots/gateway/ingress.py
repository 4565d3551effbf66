"""Where webhooks hand their parsed events: record them durably, then enqueue the new ones."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from bots.channels.base import IngestResult
from bots.logs import correlated, new_correlation_id
from bots.messages import InboundEvent, InboundMessage, encode_event, inbox_key
from bots.metrics import Metrics
from storage.inbox import Inbox, InboxBusy, NewEntry
from storage.inbox_queue import Offer, WorkQueue
from storage.inbox_sweeper import InboxSweeper

if TYPE_CHECKING:
    from bots.gateway.limits import InboundLimiter

__all__ = ["INGRESS", "QueueIngress"]

log = logging.getLogger(__name__)


class QueueIngress:
    """Store each event in the inbox, then publish the new ones on their ordering key.

    Nothing is answered 2xx unless it is stored: when the database cannot take the events,
    `BackendUnavailable` propagates (503). The inbox's unique key is the duplicate check. When
    the queue refuses an event (over its bound, or a partition waiting to be restored) or cannot
    be reached, the rows just written are withdrawn and the webhook answers 503 with Retry-After:
    the platform's retry then goes through in order and at once, where a 2xx would leave the
    event to the sweeper's grace period and let the customer's later messages overtake it. If
    the withdrawal fails too, the row stays (the answer is still 503; the retry is a duplicate)
    and the sweeper enqueues it.
    """

    def __init__(
        self,
        inbox: Inbox,
        queue: WorkQueue,
        metrics: Metrics,
        restorer: InboxSweeper,
        limiter: InboundLimiter | None = None,
    ) -> None:
        self._inbox = inbox
        self._queue = queue
        self._metrics = metrics
        self._restorer = restorer
        self._limiter = limiter  # a flood from one sender: noticed once, dropped (limits.py)

    async def accept(self, events: Sequence[InboundEvent]) -> IngestResult:
        if self._limiter is None:
            return await self._accept(events, [])
        admitted = await self._limiter.admit(events)
        unstored: list[InboundEvent] = []  # what the limiter gives back: copies, failures
        try:
            return await self._accept(admitted, unstored)
        except BaseException:
            unstored = admitted  # nothing stored: the platform's retry must not pay twice
            raise
        finally:
            await self._limiter.refund(unstored)

    async def _accept(
        self, events: Sequence[InboundEvent], duplicates: list[InboundEvent]
    ) -> IngestResult:
        if not events:
            return IngestResult(accepted=0, duplicates=0)
        await self._queue.check_room()  # before the write: a full queue costs no row
        events = stamped(events)
        entries = [NewEntry(*inbox_key(e), e.ordering_key, encode_event(e)) for e in events]
        ids = await self._inbox.record(entries)
        new = [(e, entry, i) for e, entry, i in zip(events, entries, ids, strict=True) if i]
        for event, row_id in zip(events, ids, strict=True):
            if row_id is None:
                duplicates.append(event)
                self._metrics.duplicates.labels(channel=event.channel).inc()
                with correlated(_correlation(event)):
                    log.info("duplicate %s dropped", event.dedup_key)
        try:
            offers = await self._queue.offer(
                [(entry.ordering_key, entry.body) for _, entry, _ in new]
            )
        except BaseException:
            await self._withdraw([i for _, _, i in new])
            raise
        if "lost" in offers:  # the queue lost its state (Redis restarted): refill it, in order
            offers = await self._after_restore(new, offers)
        refused = [i for (_, _, i), offer in zip(new, offers, strict=True) if offer != "queued"]
        if refused and await self._withdraw(refused):
            why = "restoring" if "lost" in offers else "full"
            retry_after = self._queue.bounds.retry_after
            raise InboxBusy(f"queue {why}: {len(refused)} events refused", retry_after)
        for event, _, _ in new:
            self._metrics.inbound.labels(channel=event.channel).inc()
            with correlated(_correlation(event)):
                log.debug("%s %s queued", event.channel, _kind(event))
        return IngestResult(accepted=len(new), duplicates=len(events) - len(new))

    async def _after_restore(
        self, new: list[tuple[InboundEvent, NewEntry, int]], offers: list[Offer]
    ) -> list[Offer]:
        """Restore lost partitions (which puts back this request's rows as well, unless another
        process restored first); offer again what is still not on the queue."""
        restored = await self._restorer.restore_lost()
        again = [
            k
            for k, ((_, _, row_id), offer) in enumerate(zip(new, offers, strict=True))
            if offer == "lost" and row_id not in restored
        ]
        out: list[Offer] = ["queued" if o == "lost" else o for o in offers]
        if again:
            retried = await self._queue.offer(
                [(new[k][1].ordering_key, new[k][1].body) for k in again]
            )
            for k, offer in zip(again, retried, strict=True):
                out[k] = offer
        return out

    async def _withdraw(self, ids: list[int]) -> int:
        if not ids:
            return 0
        return await self._inbox.withdraw(ids)


def stamped(events: Sequence[InboundEvent]) -> list[InboundEvent]:
    """The events, each message given the time it was accepted and its correlation id (one
    it came with is kept: the Telegram poller and the simulator go through here too)."""
    now = time.time()
    return [
        dataclasses.replace(
            e, received_at=now, correlation_id=e.correlation_id or new_correlation_id()
        )
        if isinstance(e, InboundMessage)
        else e
        for e in events
    ]


def _kind(event: InboundEvent) -> str:
    return "message" if isinstance(event, InboundMessage) else "event"


def _correlation(event: InboundEvent) -> str | None:
    return event.correlation_id if isinstance(event, InboundMessage) else None


# The process's ingress (here, not in bots.keys: that module is imported by the gateway's routes,
# so a key of it naming this class would be a circle between the gateway and bots.keys).
INGRESS = web.AppKey("ingress", QueueIngress)
