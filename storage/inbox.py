"""The durable inbox: every inbound event the gateway accepted, stored before it answers 2xx.

A row is written (one multi-row ``INSERT ... ON CONFLICT DO NOTHING`` per group of webhook
bodies) before the platform hears 2xx, so the unique key ``(channel, platform_id)`` is the
durable duplicate check, and the queue (memory or Redis) only carries work: whatever it loses,
the rows still say what was accepted and not yet processed (``done_at IS NULL``). The worker
marks a row done once the event was handled (batched, best effort: a redelivery of a processed
message is harmless, the transcript's unique inbound key catches it). `storage.inbox_sweeper`
puts unprocessed rows back on the queue; see there for the ordering rule.

Writes are group-committed (`storage.group_commit`, as the turn writer's): while one batch
commits, the next gathers, so SQLite's single writer sees one transaction per batch.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import text

from storage.db import Database
from storage.errors import BackendUnavailable, StorageError
from storage.group_commit import GroupCommit
from storage.models import Base, BigId, utcnow
from storage.repositories._sql import insert_ignoring_conflicts

__all__ = [
    "Inbox",
    "InboxBusy",
    "InboxEntry",
    "InboxRow",
    "NewEntry",
    "is_swept",
    "mark_processed",
    "mark_swept",
]

log = logging.getLogger(__name__)

_PENDING = text("done_at IS NULL")


class InboxEntry(Base):
    """One accepted inbound event; ``done_at`` is set once a worker handled it."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "platform_id"),
        # the sweeper reads only unprocessed rows, in accepted order
        Index("ix_inbox_pending", "id", sqlite_where=_PENDING, postgresql_where=_PENDING),
        Index(None, "done_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    platform_id: Mapped[str] = mapped_column(Text)  # message id, or "event:<id>"
    ordering_key: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the queue message, as first published
    accepted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None]
    sweeps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


INBOX = cast(Table, InboxEntry.__table__)


class InboxBusy(BackendUnavailable):
    """The event cannot be taken now (queue over its bound, or being restored): retry later."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What the gateway records for one event."""

    channel: str
    platform_id: str
    ordering_key: str
    body: bytes


@dataclass(frozen=True, slots=True)
class InboxRow:
    """An unprocessed row, as the sweeper reads it."""

    id: int
    ordering_key: str
    body: bytes
    accepted_at: dt.datetime
    sweeps: int


# ---- the "swept" flag on a queue body --------------------------------------------------------

_SWEPT = b',"swept":true}'


def mark_swept(body: bytes) -> bytes:
    """The queue body with a top-level ``"swept": true`` (a JSON object's other readers ignore
    it): the worker then checks the transcript before running a turn, as for a redelivery."""
    return body if is_swept(body) else body[:-1] + _SWEPT


def is_swept(body: bytes) -> bool:
    """True for a body put back on the queue by the sweeper."""
    return body.endswith(_SWEPT)


ItemT = TypeVar("ItemT")
R = TypeVar("R")


def _record(s: Session, entries: list[NewEntry]) -> list[int | None]:
    """Insert new rows; the id of each, None for a duplicate (stored before, or earlier here)."""
    now = utcnow()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entries:
        rows.setdefault(
            (e.channel, e.platform_id),
            {
                "channel": e.channel,
                "platform_id": e.platform_id,
                "ordering_key": e.ordering_key,
                "body": e.body,
                "accepted_at": now,
                "sweeps": 0,
            },
        )
    stmt = insert_ignoring_conflicts(s, INBOX, ["channel", "platform_id"]).returning(
        INBOX.c.id, INBOX.c.channel, INBOX.c.platform_id
    )
    ids = {(r.channel, r.platform_id): r.id for r in s.execute(stmt, list(rows.values())).all()}
    out: list[int | None] = []
    for e in entries:
        out.append(ids.pop((e.channel, e.platform_id), None))  # a repeat in this batch: None
    return out


def _mark_done(s: Session, keys: list[tuple[str, str]]) -> list[None]:
    s.execute(
        update(INBOX)
        .where(tuple_(INBOX.c.channel, INBOX.c.platform_id).in_(set(keys)), _PENDING)
        .values(done_at=utcnow())
    )
    return [None] * len(keys)


def _writer(db: Database, work: Callable[[Session, list[ItemT]], list[R]]) -> GroupCommit[ItemT, R]:
    """A group commit for the inbox: a batch that fails, fails all its webhooks (the gateway
    answers 503 and the platform sends them again)."""
    return GroupCommit(
        db,
        work,
        name="inbox writer",
        failed="inbox write failed",
        expected=(SQLAlchemyError, StorageError, OSError, TimeoutError),
        unavailable=BackendUnavailable,
    )


# ---- the facade ------------------------------------------------------------------------------

_ATTACHED: weakref.WeakKeyDictionary[Database, Inbox] = weakref.WeakKeyDictionary()


class Inbox:
    """The inbox of one database: record (gateway), mark done (worker), read and sweep."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._records: GroupCommit[NewEntry, int | None] = _writer(db, _record)
        self._marks: GroupCommit[tuple[str, str], None] = _writer(db, _mark_done)
        self._marking: set[asyncio.Task[Any]] = set()

    def attach(self) -> None:
        """Let `mark_processed(db, ...)` reach this inbox (the worker knows only the database)."""
        _ATTACHED[self.db] = self

    async def record(self, entries: Sequence[NewEntry]) -> list[int | None]:
        """Store ``entries`` durably; per entry its row id, or None for a duplicate.

        Raises `BackendUnavailable` when the database cannot take them.
        """
        if not entries:
            return []
        return await self._records.submit(list(entries))

    async def withdraw(self, ids: Sequence[int]) -> int:
        """Delete rows just recorded that could not be queued (the webhook answers 503 and the
        platform sends them again); rows already handled stay. Returns how many went."""

        def work(s: Session) -> int:
            res: Any = s.execute(delete(INBOX).where(INBOX.c.id.in_(ids), _PENDING))
            return int(res.rowcount or 0)

        try:
            return await self.db.run(work)
        except (SQLAlchemyError, OSError, TimeoutError) as e:
            raise BackendUnavailable(f"inbox withdraw failed: {e}") from e

    def done(self, channel: str, platform_id: str) -> None:
        """Mark a row processed, in the background and batched with others."""
        task = asyncio.create_task(self._mark(channel, platform_id))
        self._marking.add(task)
        task.add_done_callback(self._marking.discard)

    async def _mark(self, channel: str, platform_id: str) -> None:
        try:
            await self._marks.submit([(channel, platform_id)])
        except StorageError as e:  # the sweeper puts it back; the worker sees it was processed
            log.warning("inbox: marking %s:%s done failed: %s", channel, platform_id, e)

    async def flush(self) -> None:
        """Wait for every mark handed to `done` so far."""
        while self._marking:
            await asyncio.gather(*list(self._marking), return_exceptions=True)

    async def close(self) -> None:
        """Flush the marks, stop the writers, detach."""
        await self.flush()
        await self._records.close()
        await self._marks.close()
        if _ATTACHED.get(self.db) is self:
            del _ATTACHED[self.db]

    # ---- reads and upkeep for the sweeper ----------------------------------------------------

    async def pending(self, *, limit: int = 100_000) -> list[InboxRow]:
        """Unprocessed rows in accepted order."""

        def work(s: Session) -> list[InboxRow]:
            rows = s.execute(
                select(
                    INBOX.c.id,
                    INBOX.c.ordering_key,
                    INBOX.c.body,
                    INBOX.c.accepted_at,
                    INBOX.c.sweeps,
                )
                .where(_PENDING)
                .order_by(INBOX.c.id)
                .limit(limit)
            ).all()
            return [InboxRow(r.id, r.ordering_key, r.body, r.accepted_at, r.sweeps) for r in rows]

        return await self._read(work)

    async def swept(self, ids: Sequence[int], *, give_up: Sequence[int] = ()) -> None:
        """Count a sweep of ``ids``; mark ``give_up`` done (they failed too often)."""

        def work(s: Session) -> None:
            if ids:
                s.execute(
                    update(INBOX).where(INBOX.c.id.in_(ids)).values(sweeps=INBOX.c.sweeps + 1)
                )
            if give_up:
                s.execute(update(INBOX).where(INBOX.c.id.in_(give_up)).values(done_at=utcnow()))

        await self._write(work)

    async def prune(self, done_before: dt.datetime, *, limit: int = 5000) -> int:
        """Delete up to ``limit`` rows processed before ``done_before`` (past the dedup window)."""

        def work(s: Session) -> int:
            old = select(INBOX.c.id).where(INBOX.c.done_at < done_before).limit(limit)
            res: Any = s.execute(delete(INBOX).where(INBOX.c.id.in_(old)))
            return int(res.rowcount or 0)

        return await self._write(work)

    async def _read(self, work: Callable[[Session], R]) -> R:
        try:
            return await self.db.run(work, write=False)
        except (SQLAlchemyError, OSError, TimeoutError) as e:
            raise BackendUnavailable(f"inbox read failed: {e}") from e

    async def _write(self, work: Callable[[Session], R]) -> R:
        try:
            return await self.db.run(work)
        except (SQLAlchemyError, OSError, TimeoutError) as e:
            raise BackendUnavailable(f"inbox write failed: {e}") from e


def mark_processed(db: Database, channel: str, platform_id: str) -> None:
    """Mark the inbox row of an event handled, if an inbox is attached to ``db`` (a worker
    built without the app, as some tests do, has none)."""
    inbox = _ATTACHED.get(db)
    if inbox is not None:
        inbox.done(channel, platform_id)
