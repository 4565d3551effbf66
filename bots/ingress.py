"""Where webhooks hand their parsed events: drop duplicates, enqueue the rest."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bots.channels.base import IngestResult
from bots.messages import InboundEvent, encode_event
from bots.metrics import Metrics
from storage.dedup import DuplicateFilter
from storage.queue import MessageQueue

log = logging.getLogger(__name__)


class QueueIngress:
    """Deduplicate by (channel, platform id), then publish on the customer's ordering key.

    If publishing fails the dedup mark is removed again and the error propagates, so the
    webhook answers 5xx and the platform's own retry is not mistaken for a duplicate.
    """

    def __init__(self, dedup: DuplicateFilter, queue: MessageQueue, metrics: Metrics) -> None:
        self._dedup = dedup
        self._queue = queue
        self._metrics = metrics

    async def accept(self, events: Sequence[InboundEvent]) -> IngestResult:
        accepted = duplicates = 0
        for event in events:
            key = event.dedup_key
            if not await self._dedup.first_time(key):
                duplicates += 1
                self._metrics.duplicates.labels(channel=event.channel).inc()
                log.info("duplicate %s dropped", key)
                continue
            try:
                await self._queue.publish(event.ordering_key, encode_event(event))
            except BaseException:
                await self._dedup.forget(key)
                raise
            accepted += 1
            self._metrics.inbound.labels(channel=event.channel).inc()
        return IngestResult(accepted=accepted, duplicates=duplicates)
