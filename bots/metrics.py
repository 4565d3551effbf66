"""Prometheus metrics, one registry per app so tests and processes never share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.sent = Counter(
            "omnirelay_sent_total", "Outbound sends by result", ["channel", "result"], registry=r
        )
        self.intents = Counter("omnirelay_intents_total", "Parsed intents", ["intent"], registry=r)
        self.partitions_owned = Gauge(
            "omnirelay_queue_partitions_owned",
            "Queue partitions this worker process holds the lease of (Redis mode)",
            registry=r,
        )
        self.queue_depth = Gauge(
            "omnirelay_queue_depth", "Messages published but not yet acked", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
