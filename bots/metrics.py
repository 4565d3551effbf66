"""Prometheus metrics, one registry per app so tests and processes never share counters.

Counters move where the thing happens (ingress, the worker's turn, the reply sender, the
handoff listener); gauges that describe state elsewhere (the queue, the proactive backlog) are
read when `/metrics` is scraped (`Metrics.refresh`). Every label has a small, fixed set of
values: channels, causes, decisions, reasons mapped onto a short list (`handoff_reason`).
The README's "Monitoring" section lists them; `bots/observability/` has a Grafana dashboard.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from storage.proactive_models import ProactiveJob

if TYPE_CHECKING:
    from bots.messages import PendingSend
    from handoff.events import HandoffEvent
    from storage.db import Database
    from storage.queue import MessageQueue

__all__ = ["HANDOFF_REASONS", "HandoffCounter", "Metrics", "handoff_reason"]

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300)

#: what a ticket's free-text reason counts as (`handoff_reason`); anything else is "other"
HANDOFF_REASONS: Mapping[str, str] = {
    "customer_asked_for_a_person": "request",
    "repeated_misunderstanding": "misses",
    "order_number_not_understood": "misses",
    "complaint": "complaint",
    "processing_error": "error",
    "backend_error": "error",
    "agent_initiated": "take_over",
    "stale_order": "stale_order",
}


def handoff_reason(reason: str) -> str:
    """The bounded label for a ticket's reason: request, misses, complaint, error, take_over,
    stale_order, alert (a proactive alert's ``alert:<name>``) or other."""
    if reason.startswith("alert:"):
        return "alert"
    return HANDOFF_REASONS.get(reason, "other")


class SchedulerView(Protocol):
    """What `Metrics.refresh` reads of `bots.proactive.scheduler.Scheduler`."""

    db: Database
    clock: Callable[[], datetime]
    decided: dict[str, int]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._inputs()
        self._sending()
        self._state()
        self._decided_seen: dict[str, int] = {}

    def _inputs(self) -> None:
        r = self.registry
        self.inbound = Counter(
            "omnirelay_inbound_total", "Events accepted from webhooks", ["channel"], registry=r
        )
        self.duplicates = Counter(
            "omnirelay_duplicates_total", "Duplicate deliveries dropped", ["channel"], registry=r
        )
        self.rejected = Counter(
            "omnirelay_webhook_rejected_total",
            "Webhook requests rejected",
            ["channel", "reason"],
            registry=r,
        )
        self.processed = Counter(
            "omnirelay_processed_total", "Messages processed by workers", ["channel"], registry=r
        )
        self.processing_seconds = Histogram(
            "omnirelay_processing_seconds",
            "Time from dequeue to replies stored",
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.intents = Counter(
            "omnirelay_intents_total",
            "The NLU model's top intent of each message it parsed (the model's reading)",
            ["intent"],
            registry=r,
        )
        self.nlu_fallbacks = Counter(
            "omnirelay_nlu_fallbacks_total",
            "Messages the bot answered as not understood (the dialogue's reading, not the "
            "model's: the analytics' fallback, storage/analytics/METRICS.md)",
            ["channel"],
            registry=r,
        )
        self.handoffs = Counter(
            "omnirelay_handoffs_total",
            "Tickets opened for a person, by reason (request, misses, complaint, error, "
            "take_over, stale_order, alert, other)",
            ["reason"],
            registry=r,
        )

    def _sending(self) -> None:
        r = self.registry
        self.sent = Counter(
            "omnirelay_sent_total",
            "Calls to a platform's send API by outcome (sent, rate_limited, transient, failed, "
            "unreachable, outside_window)",
            ["channel", "result"],
            registry=r,
        )
        self.replies_sent = Counter(
            "omnirelay_replies_sent_total",
            "Replies the platform accepted, by sender (bot, agent)",
            ["channel", "sender"],
            registry=r,
        )
        self.replies_failed = Counter(
            "omnirelay_replies_failed_total",
            "Replies given up for good, by cause (rate_limited, server_error, rejected, "
            "unreachable, outside_window, not_configured)",
            ["channel", "cause"],
            registry=r,
        )
        self.reply_latency = Histogram(
            "omnirelay_reply_latency_seconds",
            "From the webhook accepting a message to its first reply sent",
            ["channel"],
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.outbox_in_flight = Gauge(
            "omnirelay_outbox_in_flight",
            "Replies this process holds in its outbox's lanes",
            registry=r,
        )

    def _state(self) -> None:
        r = self.registry
        self.partitions_owned = Gauge(
            "omnirelay_queue_partitions_owned",
            "Queue partitions this worker process holds the lease of (Redis mode)",
            registry=r,
        )
        self.queue_depth = Gauge(
            "omnirelay_queue_depth", "Messages published but not yet acked", registry=r
        )
        self.queue_oldest_age = Gauge(
            "omnirelay_queue_oldest_age_seconds",
            "Age of the oldest message published but not yet acked (0: none)",
            registry=r,
        )
        self.proactive_backlog = Gauge(
            "omnirelay_proactive_backlog",
            "Proactive jobs due and not yet decided",
            registry=r,
        )
        self.proactive_backlog_oldest = Gauge(
            "omnirelay_proactive_backlog_oldest_seconds",
            "How long the oldest due proactive job has been due, on the bot's clock (0: none)",
            registry=r,
        )
        self.proactive_decisions = Counter(
            "omnirelay_proactive_decisions_total",
            "Proactive jobs decided by this process, by decision",
            ["decision"],
            registry=r,
        )

    # ---- where counters move ------------------------------------------------------------------

    def reply_sent(self, send: PendingSend) -> None:
        """A reply the platform accepted; the first reply of a message ends its latency."""
        self.sent.labels(channel=send.channel, result="sent").inc()
        self.replies_sent.labels(channel=send.channel, sender=send.message.sender).inc()
        if send.received_at is not None:
            waited = max(0.0, time.time() - send.received_at)
            self.reply_latency.labels(channel=send.channel).observe(waited)

    def reply_failed(self, channel: str, cause: str) -> None:
        self.replies_failed.labels(channel=channel, cause=cause).inc()

    # ---- read on scrape -----------------------------------------------------------------------

    async def refresh(
        self,
        queue: MessageQueue,
        *,
        scheduler: SchedulerView | None = None,
        in_flight: int | None = None,
    ) -> None:
        """Bring the gauges up to date (called by `/metrics` before rendering); a source that
        cannot be read keeps its last value and logs a warning."""
        try:
            self.queue_depth.set(await queue.depth())
            self.queue_oldest_age.set(await queue.oldest_age() or 0.0)
        except Exception:
            log.warning("queue depth unavailable", exc_info=True)
        owned = getattr(queue, "owned_partitions", None)
        if owned is not None:
            self.partitions_owned.set(len(owned))
        if in_flight is not None:
            self.outbox_in_flight.set(in_flight)
        if scheduler is not None:
            self._decisions(scheduler.decided)
            try:
                await self._backlog(scheduler.db, scheduler.clock())
            except Exception:
                log.warning("proactive backlog unavailable", exc_info=True)

    def _decisions(self, decided: Mapping[str, int]) -> None:
        for decision, count in list(decided.items()):
            new = count - self._decided_seen.get(decision, 0)
            if new > 0:
                self.proactive_decisions.labels(decision=decision).inc(new)
            self._decided_seen[decision] = count

    async def _backlog(self, db: Database, now: datetime) -> None:
        due = (ProactiveJob.status == "scheduled", ProactiveJob.due_at <= now)
        async with db.session() as s:
            row = (
                await s.execute(select(func.count(), func.min(ProactiveJob.due_at)).where(*due))
            ).one()
        count, oldest = row
        self.proactive_backlog.set(count)
        late = (now - _aware(oldest, now)).total_seconds() if oldest is not None else 0.0
        self.proactive_backlog_oldest.set(max(0.0, late))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class HandoffCounter:
    """A `handoff.service.HandoffService` listener: counts each ticket opened, by reason."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(self, event: HandoffEvent) -> None:
        if event.kind == "ticket.created":
            reason = str(event.data.get("reason") or "")
            self._metrics.handoffs.labels(reason=handoff_reason(reason)).inc()


def _aware(value: datetime, like: datetime) -> datetime:
    """SQLite hands datetimes back naive (stored as UTC)."""
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value
