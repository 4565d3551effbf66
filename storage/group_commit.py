"""Group commit: the small writes of many callers, one transaction per batch.

While one batch commits, the next gathers, so a single-writer database like SQLite sees one
transaction per batch instead of one per caller, and nobody waits for a timer: a lone write
goes at once. The durable inbox (`storage.inbox`) and the turn writer (`storage.turns`) use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storage.db import Database
from storage.errors import StorageError

__all__ = ["MAX_BATCH", "GroupCommit"]

log = logging.getLogger(__name__)

MAX_BATCH = 256

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class GroupCommit(Generic[ItemT, ResultT]):
    """Runs ``work(session, items)`` for everything submitted, one transaction per batch.

    ``work`` returns one result per item, in order; a batch holds up to ``max_batch`` items
    (a larger submission goes alone). A batch that fails with one of the ``expected`` errors
    fails its waiters with ``unavailable("<failed>: <error>")``, or, with ``retry_alone``, is
    written again one submission at a time, so that one bad submission cannot fail the others.
    Any other error fails the batch's waiters with `StorageError`: nobody is left waiting for a
    write that will not happen.
    """

    def __init__(
        self,
        db: Database,
        work: Callable[[Session, list[ItemT]], list[ResultT]],
        *,
        name: str,
        failed: str,
        max_batch: int = MAX_BATCH,
        expected: tuple[type[BaseException], ...] = (SQLAlchemyError, StorageError),
        unavailable: Callable[[str], StorageError] = StorageError,
        retry_alone: bool = False,
    ) -> None:
        self._db = db
        self._work = work
        self._name = name  # "turn writer": its task's name and what `close` tells the waiters
        self._failed = failed  # "writing a turn failed": the start of a waiter's error
        self._max_batch = max_batch
        self._expected = expected
        self._unavailable = unavailable
        self._retry_alone = retry_alone
        self._pending: list[tuple[list[ItemT], asyncio.Future[list[ResultT]]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, items: list[ItemT]) -> list[ResultT]:
        """Queue ``items`` and wait until their batch committed; their results, in order."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self._name.replace(" ", "-"))
        future: asyncio.Future[list[ResultT]] = asyncio.get_running_loop().create_future()
        self._pending.append((items, future))
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Stop the writer task; what is still queued fails with `StorageError`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._fail(self._pending, StorageError(f"the {self._name} was closed"))
        self._pending.clear()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._commit(self._next_batch())

    def _next_batch(self) -> list[tuple[list[ItemT], asyncio.Future[list[ResultT]]]]:
        batch: list[tuple[list[ItemT], asyncio.Future[list[ResultT]]]] = []
        size = 0
        while self._pending and (not batch or size + len(self._pending[0][0]) <= self._max_batch):
            batch.append(self._pending.pop(0))
            size += len(batch[-1][0])
        return batch

    async def _commit(self, batch: list[tuple[list[ItemT], asyncio.Future[list[ResultT]]]]) -> None:
        items = [item for chunk, _ in batch for item in chunk]
        try:
            results = await self._db.run(lambda s: self._work(s, items))
        except self._expected as e:
            if self._retry_alone and len(batch) > 1:
                log.warning(
                    "%s: a batch of %d failed (%s); writing them one by one",
                    self._name,
                    len(batch),
                    e,
                )
                for waiter in batch:
                    await self._commit([waiter])
                return
            self._fail(batch, self._unavailable(f"{self._failed}: {e}"))
            return
        except Exception as e:
            # Never leave a caller waiting for a write that will not happen: a turn's customer
            # queues behind it, an unanswered webhook would only time out and be sent again.
            log.exception("%s: a batch of %d failed unexpectedly", self._name, len(items))
            self._fail(batch, StorageError(f"{self._failed}: {e!r}"))
            return
        start = 0
        for chunk, future in batch:
            if not future.done():  # done: the waiter was cancelled
                future.set_result(results[start : start + len(chunk)])
            start += len(chunk)

    @staticmethod
    def _fail(
        batch: list[tuple[list[ItemT], asyncio.Future[list[ResultT]]]], error: Exception
    ) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(error)
