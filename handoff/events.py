"""Live handoff events for the console (SSE): in-process fan-out, or Redis pub/sub so an
event raised by a worker process reaches the agent connected to any gateway process.

Delivery is best effort and at least once (a redelivered customer message is relayed again;
events carry ids so a console can drop repeats). Durable history lives in the database:
the transcript and ``ticket_events``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from storage.models import utcnow
from storage.redis import close_subscription, subscribe

__all__ = ["EventBus", "HandoffEvent", "MemoryEventBus", "RedisEventBus", "Subscription"]

log = logging.getLogger(__name__)

SUBSCRIBER_BUFFER = 1000


@dataclass(frozen=True, slots=True)
class HandoffEvent:
    """One thing that happened to a ticket (or a customer message relayed to it)."""

    kind: str  # ticket.created, ticket.offered, ticket.assigned, message.customer, ...
    ticket_id: int
    customer_id: int
    queue_id: int | None = None
    agent_id: int | None = None  # the agent it concerns (offered to, assigned to, author)
    data: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: utcnow().isoformat())
    id: str = ""  # unique per event: lets consumers drop at-least-once repeats

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> HandoffEvent:
        return cls(**orjson.loads(raw))


class Subscription:
    """Events for one listener (one SSE connection), buffered; the oldest drop on overflow."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[HandoffEvent] = asyncio.Queue(SUBSCRIBER_BUFFER)

    def put(self, event: HandoffEvent) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            log.warning("handoff events: a slow console missed an event")
        self._queue.put_nowait(event)

    async def get(self, timeout: float) -> HandoffEvent | None:  # noqa: ASYNC109
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None


class EventBus:
    """Fan-out to this process's subscriptions; subclasses decide how events arrive."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, event: HandoffEvent) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription()
        self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)

    def _fan_out(self, event: HandoffEvent) -> None:
        for sub in list(self._subs):
            sub.put(event)


class MemoryEventBus(EventBus):
    """One process (embedded mode): publishing is delivering."""

    async def publish(self, event: HandoffEvent) -> None:
        self._fan_out(event)


class RedisEventBus(EventBus):
    """Every process subscribes to one channel; a publish reaches all of them (itself too)."""

    def __init__(self, redis: aioredis.Redis, channel: str) -> None:
        super().__init__()
        self._redis = redis
        self._channel = channel
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        pubsub = await subscribe(self._redis, self._channel)
        self._pubsub = pubsub
        self._listener = asyncio.create_task(self._listen(pubsub), name="handoff-events")

    async def close(self) -> None:
        await close_subscription(self._listener, self._pubsub)
        self._listener, self._pubsub = None, None

    async def publish(self, event: HandoffEvent) -> None:
        try:
            await self._redis.publish(self._channel, event.to_json())
        except RedisError as e:
            log.warning(
                "handoff event %s for ticket %s not published: %s", event.kind, event.ticket_id, e
            )

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            try:
                msg: Any = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
            except (RedisError, OSError) as e:
                log.warning("handoff events: subscription error: %s", e)
                await asyncio.sleep(1.0)  # pubsub reconnects and resubscribes on the next read
                continue
            if msg is None or msg.get("type") not in ("message", b"message"):
                continue
            try:
                event = HandoffEvent.from_json(msg["data"])
            except (orjson.JSONDecodeError, TypeError) as e:
                log.warning("handoff events: dropped an unreadable event: %s", e)
                continue
            self._fan_out(event)
