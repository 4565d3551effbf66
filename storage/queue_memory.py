"""In-process `MessageQueue` for the single-process default deployment and tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from dataclasses import dataclass

from storage.errors import StorageError
from storage.queue import Delivery, Handler, KeyedDispatcher

__all__ = ["MemoryQueue"]


@dataclass
class _Message:
    key: str
    body: bytes
    deliveries: int = 0


class MemoryQueue:
    """Messages live in this process until acked; one `consume` call at a time.

    A message left unacked when `consume` returns (stop during a retry backoff) is delivered
    again, in order, by the next `consume` call.
    """

    def __init__(
        self, *, max_attempts: int = 5, retry_delay: float = 0.1, max_retry_delay: float = 5.0
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

    async def publish(self, key: str, body: bytes) -> str:
        """See `MessageQueue.publish`."""
        msg_id = str(next(self._ids))
        self._unacked[msg_id] = _Message(key, body)
        self._fresh.append(msg_id)
        self._wakeup.set()
        return msg_id

    async def depth(self) -> int:
        """See `MessageQueue.depth`."""
        return len(self._unacked)

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
        self._unacked.pop(delivery.id, None)

    async def _dead(self, delivery: Delivery) -> None:
        self.dead_letters.append(delivery)
        self._unacked.pop(delivery.id, None)
