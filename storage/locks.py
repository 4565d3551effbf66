"""Per-customer locks: one message of a customer is processed at a time, anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import BackendUnavailable, LockTimeout
from storage.keys import LOCK_LEASE_MS, Keys
from storage.lua import RELEASE_IF_OWNER, RENEW_IF_OWNER

__all__ = ["CustomerLocks", "MemoryCustomerLocks", "RedisCustomerLocks"]

log = logging.getLogger(__name__)


class CustomerLocks(Protocol):
    """Mutual exclusion per customer id."""

    def hold(
        self, customer_id: int, timeout: float
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the customer's lock for the ``async with`` body.

        Raises `LockTimeout` when it cannot be acquired within ``timeout`` seconds.
        """
        ...


class MemoryCustomerLocks:
    """`asyncio.Lock` per customer, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # id -> (lock, users)

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, customer_id: int, timeout: float) -> AsyncIterator[None]:  # noqa: ASYNC109
        """See `CustomerLocks.hold`."""
        lock, users = self._locks.get(customer_id, (asyncio.Lock(), 0))
        self._locks[customer_id] = (lock, users + 1)
        try:
            try:
                async with asyncio.timeout(timeout):
                    await lock.acquire()
            except TimeoutError as e:
                raise LockTimeout(f"customer {customer_id} lock not acquired in {timeout}s") from e
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[customer_id]
            if users <= 1:
                del self._locks[customer_id]
            else:
                self._locks[customer_id] = (lock, users - 1)


class RedisCustomerLocks:
    """Lease locks: ``SET NX PX`` with a random token, renewed while held, released by Lua."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        lease_ms: int = LOCK_LEASE_MS,
        poll_min: float = 0.005,
        poll_max: float = 0.1,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._lease_ms = lease_ms
        self._poll_min = poll_min
        self._poll_max = poll_max
        self._release = redis.register_script(RELEASE_IF_OWNER)
        self._renew = redis.register_script(RENEW_IF_OWNER)

    @contextlib.asynccontextmanager
    async def hold(self, customer_id: int, timeout: float) -> AsyncIterator[None]:  # noqa: ASYNC109
        """See `CustomerLocks.hold`."""
        key = self._keys.lock(customer_id)
        token = secrets.token_hex(16).encode()
        await self._acquire(key, token, timeout, customer_id)
        released = asyncio.Event()
        renewer = asyncio.create_task(
            self._keep_alive(key, token, released), name=f"lock-renew:{key}"
        )
        try:
            yield
        finally:
            released.set()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            try:
                await self._release(keys=[key], args=[token])
            except RedisError as e:
                # The lease expires on its own; a failed release only delays the next holder.
                log.warning("releasing lock %s failed: %s", key, e)

    async def _acquire(self, key: str, token: bytes, wait_s: float, customer_id: int) -> None:
        deadline = time.monotonic() + wait_s
        delay = self._poll_min
        while True:
            try:
                if await self._redis.set(key, token, nx=True, px=self._lease_ms):
                    return
            except RedisError as e:
                raise BackendUnavailable(f"Redis lock acquire failed: {e}") from e
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(f"customer {customer_id} lock not acquired in {wait_s}s")
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, self._poll_max)

    async def _keep_alive(self, key: str, token: bytes, released: asyncio.Event) -> None:
        # Stops on `released` as well as on the cancel: redis-py 8 returns a command's result
        # to a task cancelled during it (the cancel is lost), and `hold` would wait forever.
        while not released.is_set():
            await asyncio.sleep(self._lease_ms / 3000)
            try:
                if not await self._renew(keys=[key], args=[token, self._lease_ms]):
                    log.error("lock %s was lost while held (lease expired)", key)
                    return
            except RedisError as e:
                log.warning("renewing lock %s failed: %s", key, e)
