"""Reply mailbox for synchronous channels (REST): the gateway waits for the worker's answer.

The gateway registers ``expect(request_id)`` *before* publishing the inbound message (whose
``reply_to`` names this process's ``node_id``); the worker, maybe in another process, calls
``deliver(node_id, request_id, payload)``. Delivery is best effort: an answer nobody waits for
is dropped, and a waiter that hears nothing gets ``None`` after its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from storage.errors import BackendUnavailable, StorageError
from storage.keys import Keys
from storage.redis import close_subscription, subscribe

__all__ = ["MemoryReplyMailbox", "RedisReplyMailbox", "ReplyMailbox", "Waiter"]

log = logging.getLogger(__name__)


class Waiter:
    """The pending answer to one request."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self._future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def _resolve(self, payload: bytes) -> None:
        if not self._future.done():
            self._future.set_result(payload)

    async def get(self, timeout: float) -> bytes | None:  # noqa: ASYNC109 (the contract)
        """The payload, or None when nothing arrived within ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._future), timeout)
        except TimeoutError:
            return None


class ReplyMailbox(Protocol):
    """Routes a worker's reply back to the gateway process waiting for it."""

    node_id: str

    def expect(self, request_id: str) -> contextlib.AbstractAsyncContextManager[Waiter]:
        """Register interest in ``request_id`` for the ``async with`` body."""
        ...

    async def deliver(self, node_id: str, request_id: str, payload: bytes) -> None:
        """Send ``payload`` to the waiter for ``request_id`` on process ``node_id``."""
        ...


class _Waiters:
    """Waiters of this process by request id."""

    def __init__(self) -> None:
        self._waiters: dict[str, Waiter] = {}

    @contextlib.asynccontextmanager
    async def expect(self, request_id: str) -> AsyncIterator[Waiter]:
        if request_id in self._waiters:
            raise StorageError(f"request {request_id!r} is already awaited")
        waiter = self._waiters[request_id] = Waiter(request_id)
        try:
            yield waiter
        finally:
            del self._waiters[request_id]

    def resolve(self, request_id: str, payload: bytes) -> None:
        waiter = self._waiters.get(request_id)
        if waiter is None:
            log.debug("reply for request %s arrived but nobody waits for it", request_id)
            return
        waiter._resolve(payload)


class MemoryReplyMailbox:
    """In-process mailbox: only replies addressed to this ``node_id`` arrive."""

    def __init__(self, node_id: str | None = None) -> None:
        self.node_id = node_id or uuid.uuid4().hex
        self._waiters = _Waiters()

    async def start(self) -> None:
        """Nothing to start (present for symmetry with `RedisReplyMailbox`)."""

    async def close(self) -> None:
        """Nothing to close."""

    def expect(self, request_id: str) -> contextlib.AbstractAsyncContextManager[Waiter]:
        """See `ReplyMailbox.expect`."""
        return self._waiters.expect(request_id)

    async def deliver(self, node_id: str, request_id: str, payload: bytes) -> None:
        """See `ReplyMailbox.deliver`."""
        if node_id != self.node_id:
            log.warning(
                "reply for request %s addressed to unknown node %s dropped", request_id, node_id
            )
            return
        self._waiters.resolve(request_id, payload)


class RedisReplyMailbox:
    """Mailbox over Redis pub/sub: one subscription per process on ``keys.mailbox(node_id)``.

    Call `start` before `expect` and `close` at shutdown. `deliver` works without `start`.
    """

    def __init__(self, redis: aioredis.Redis, keys: Keys, node_id: str | None = None) -> None:
        self.node_id = node_id or uuid.uuid4().hex
        self._redis = redis
        self._keys = keys
        self._waiters = _Waiters()
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe to this node's channel and wait until the subscription is active."""
        pubsub = await subscribe(self._redis, self._keys.mailbox(self.node_id))
        self._pubsub = pubsub
        self._listener = asyncio.create_task(self._listen(pubsub), name="mailbox-listener")

    async def close(self) -> None:
        """Unsubscribe and stop listening."""
        await close_subscription(self._listener, self._pubsub)
        self._listener, self._pubsub = None, None

    def expect(self, request_id: str) -> contextlib.AbstractAsyncContextManager[Waiter]:
        """See `ReplyMailbox.expect`."""
        if self._pubsub is None:
            raise StorageError("RedisReplyMailbox.start() was not called")
        return self._waiters.expect(request_id)

    async def deliver(self, node_id: str, request_id: str, payload: bytes) -> None:
        """See `ReplyMailbox.deliver`."""
        if "\n" in request_id:
            raise ValueError("request id must not contain a newline")
        frame = request_id.encode() + b"\n" + payload
        try:
            await self._redis.publish(self._keys.mailbox(node_id), frame)
        except RedisError as e:
            raise BackendUnavailable(f"Redis reply publish failed: {e}") from e

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            try:
                msg: Any = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
            except (RedisError, OSError) as e:
                log.warning("reply mailbox %s: subscription error: %s", self.node_id, e)
                await asyncio.sleep(1.0)  # pubsub reconnects and resubscribes on the next read
                continue
            if msg is None or msg.get("type") not in ("message", b"message"):
                continue
            data: bytes = msg["data"]
            request_id, sep, payload = data.partition(b"\n")
            if sep:
                self._waiters.resolve(request_id.decode(), payload)
