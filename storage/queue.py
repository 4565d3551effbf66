"""The message queue contract and the in-process dispatcher both implementations share.

Guarantees: messages with the same key are handled one at a time in publish order; different
keys run concurrently (at most ``concurrency`` handlers at once); a delivery is acked only after
its handler returned; a failing handler is retried (blocking later messages of that key) and
after ``max_attempts`` the delivery goes to a dead-letter list with an ERROR log line. A
handler that raises `FenceLost` has found that its partition passed to another process: the
delivery is abandoned (neither acked, retried nor dead-lettered; the new holder has it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from storage.errors import BackendUnavailable, FenceLost
from storage.fences import FenceToken
from storage.loops import wait_event

__all__ = ["Delivery", "Handler", "KeyedDispatcher", "MessageQueue"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One delivery of a queued message to a handler."""

    id: str  # queue-specific id (stream entry id for Redis)
    key: str  # ordering key, e.g. "telegram:12345"
    body: bytes
    attempt: int  # 1 on first delivery, >1 on redelivery/retry
    fence: FenceToken | None = None  # the partition lease it was read under (Redis queue)


Handler = Callable[[Delivery], Awaitable[None]]
DeliveryCallback = Callable[[Delivery], Awaitable[None]]


class MessageQueue(Protocol):
    """Per-key ordered, at-least-once message queue."""

    async def publish(self, key: str, body: bytes) -> str:
        """Append a message for ordering key ``key``; returns its id."""
        ...

    async def consume(self, handler: Handler, *, concurrency: int, stop: asyncio.Event) -> None:
        """Hand messages to ``handler`` until ``stop`` is set, then drain in-flight handlers."""
        ...

    async def depth(self) -> int:
        """Messages published but not yet acked."""
        ...

    async def oldest_age(self) -> float | None:
        """Seconds since the oldest message not yet acked was published; None when empty."""
        ...

    async def close(self) -> None:
        """Release resources owned by the queue (never the shared Redis client)."""
        ...


class KeyedDispatcher:
    """Runs deliveries through a handler: serial per key, concurrent across keys.

    `submit` never blocks; per key, one task works through that key's deliveries in order.
    After `stop`, each key task finishes its current handler call and hands the rest to
    ``on_abandon`` (they stay unacked in the queue and are delivered again later).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        concurrency: int,
        max_attempts: int,
        on_ack: DeliveryCallback,
        on_dead: DeliveryCallback,
        on_abandon: DeliveryCallback | None = None,
        retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._handler = handler
        self._sem = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts
        self._on_ack = on_ack
        self._on_dead = on_dead
        self._on_abandon = on_abandon
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._queues: dict[str, deque[Delivery]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._changed = asyncio.Event()
        self.buffered = 0  # submitted and not yet acked, dead-lettered or abandoned

    @property
    def stopping(self) -> bool:
        """True once `stop` was called; `submit` is refused from then on."""
        return self._stopping.is_set()

    def submit(self, delivery: Delivery) -> None:
        """Queue ``delivery`` behind earlier deliveries of the same key."""
        if self._stopping.is_set():
            raise RuntimeError("dispatcher is stopping")
        q = self._queues.get(delivery.key)
        if q is None:
            q = self._queues[delivery.key] = deque()
            task = asyncio.create_task(
                self._run_key(delivery.key, q), name=f"queue-key:{delivery.key}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        q.append(delivery)
        self.buffered += 1

    async def wait_below(self, limit: int) -> None:
        """Wait until fewer than ``limit`` deliveries are buffered (or stop was requested)."""
        while self.buffered >= limit and not self._stopping.is_set():
            self._changed.clear()
            await self._changed.wait()

    def stop(self) -> None:
        """Stop starting new handler calls; running ones finish."""
        self._stopping.set()
        self._changed.set()

    async def drain(self) -> None:
        """Wait for every key task to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel everything at once (abrupt shutdown: nothing is acked or abandoned)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _done(self, count: int = 1) -> None:
        self.buffered -= count
        self._changed.set()

    async def _run_key(self, key: str, q: deque[Delivery]) -> None:
        try:
            while q and not self._stopping.is_set():
                finished = await self._deliver(q[0])
                if not finished:
                    break
                q.popleft()
                self._done()
        finally:
            del self._queues[key]
            leftover = list(q)
            q.clear()
            self._done(len(leftover))
            if self._on_abandon is not None and not _cancelling():
                for d in leftover:
                    await self._on_abandon(d)

    async def _deliver(self, delivery: Delivery) -> bool:
        """Handle with retries; False when abandoned because of `stop`."""
        attempt = delivery.attempt
        outages = 0  # retries because storage was unreachable: they cost no attempt
        while True:
            async with self._sem:
                try:
                    await self._handler(dataclasses.replace(delivery, attempt=attempt))
                except FenceLost as e:
                    log.info(
                        "queue message key=%s id=%s abandoned: %s", delivery.key, delivery.id, e
                    )
                    if self._on_abandon is not None:
                        await self._on_abandon(delivery)
                    return True
                except Exception as e:
                    error: Exception = e
                else:
                    await self._on_ack(delivery)
                    return True
            if is_outage(error):
                # Redis or the database is down or restarting: not the message's fault, so
                # it neither uses up its attempts nor goes to the dead letters; it waits.
                if outages % 20 == 0:
                    log.warning(
                        "queue message key=%s id=%s waits for storage to come back: %s",
                        delivery.key,
                        delivery.id,
                        error,
                    )
                outages += 1
                delay = min(self._retry_delay * 2**outages, self._max_retry_delay)
                if await wait_event(self._stopping, delay):
                    return False
                continue
            if attempt >= self._max_attempts:
                log.error(
                    "queue message key=%s id=%s failed %d times, moved to dead letters: %r",
                    delivery.key,
                    delivery.id,
                    attempt,
                    error,
                    exc_info=error,
                )
                await self._on_dead(dataclasses.replace(delivery, attempt=attempt))
                return True
            log.warning(
                "queue handler failed for key=%s id=%s attempt=%d: %r; retrying",
                delivery.key,
                delivery.id,
                attempt,
                error,
            )
            delay = min(
                self._retry_delay * 2 ** (attempt - delivery.attempt), self._max_retry_delay
            )
            if await wait_event(self._stopping, delay):
                return False
            attempt += 1


def is_outage(error: BaseException) -> bool:
    """True for errors that mean storage is unreachable (Redis or the database), not that
    the message is bad."""
    if isinstance(error, (BackendUnavailable, RedisConnectionError, RedisTimeoutError)):
        return True
    if isinstance(error, (OperationalError, InterfaceError)):
        return True  # connection lost or refused, server starting up, deadlock: all pass
    if isinstance(error, ConnectionError) or type(error).__name__ in _ASYNCPG_CONNECT_ERRORS:
        # asyncpg's connect during a restart raises the socket's own error (refused, reset)
        # or "the database system is starting up", not wrapped by SQLAlchemy
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


#: asyncpg's errors of a server that is restarting, by name (asyncpg need not be installed)
_ASYNCPG_CONNECT_ERRORS = frozenset(
    {"CannotConnectNowError", "ConnectionDoesNotExistError", "ConnectionFailureError"}
)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
