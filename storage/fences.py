"""Fencing tokens: a write commits only while the lease it was started under is current.

A queue partition is held under a lease, and every new lease of it gets a larger token
(`storage.lua.ACQUIRE_FENCED`). A process that stalls (CPU starvation, a GC pause, SIGSTOP)
can outlive its lease while another process takes the partition over; when it wakes up it
must not finish the turn it was in the middle of. So:

- the new holder *advances* the partition's row in ``fences`` to its token before it reads a
  single message (`advance`);
- every write of a turn runs `check` in its own transaction: it reads the scope's row
  (``FOR SHARE`` on PostgreSQL, so an advance waits for transactions already checked, and
  those that come after see the new token) and raises `FenceLost` when a newer token is
  stored. The turn is then abandoned without side effects; the new holder redoes it.

Which fence a turn runs under travels in a context variable (`fenced`), set by the worker
for the turn's task; `storage.db.Database.transaction` and the turn writer check it, so a
booking claim or a ticket change made during the turn is guarded as well as the transcript.
Tasks the turn starts (outbox lanes, the turn writer) are not bound by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.errors import FenceLost
from storage.models import Fence

__all__ = ["FenceToken", "advance", "check", "check_sync", "current", "fenced", "stored_token"]


@dataclass(frozen=True, slots=True)
class FenceToken:
    """A lease scope (``q:<partition>``) and the token it was held under."""

    scope: str
    token: int

    def __str__(self) -> str:
        return f"{self.scope}#{self.token}"


# (fence, the task that set it): tasks started during a turn inherit context variables, but
# an outbox lane or a writer task outlives the turn and must not be bound by its lease.
_current: contextvars.ContextVar[tuple[FenceToken, asyncio.Task[object] | None] | None] = (
    contextvars.ContextVar("omnirelay_fence", default=None)
)


def current() -> FenceToken | None:
    """The fence the running task's writes must respect (None: unfenced work)."""
    held = _current.get()
    if held is None or held[1] is not asyncio.current_task():
        return None
    return held[0]


@contextlib.contextmanager
def fenced(fence: FenceToken | None) -> Iterator[None]:
    """Run the block's writes, in this task, under ``fence`` (None: no check)."""
    reset = _current.set(None if fence is None else (fence, asyncio.current_task()))
    try:
        yield
    finally:
        _current.reset(reset)


def _statement(session: AsyncSession | Session, fence: FenceToken) -> Select[int]:
    stmt = select(Fence.token).where(Fence.scope == fence.scope)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(read=True)
    return stmt


def _verdict(fence: FenceToken, stored: int | None) -> None:
    if stored is not None and stored > fence.token:
        raise FenceLost(f"lease {fence.scope} passed to token {stored}; this work held {fence}")


async def check(session: AsyncSession, fence: FenceToken | None = None) -> None:
    """Raise `FenceLost` unless ``fence`` (default: the task's) is still the newest one.

    Call it inside the transaction whose writes it guards.
    """
    fence = fence or current()
    if fence is None:
        return
    stored = (await session.execute(_statement(session, fence))).scalar_one_or_none()
    _verdict(fence, stored)


def check_sync(session: Session, fence: FenceToken | None) -> None:
    """`check` for synchronous units of work (`storage.db.Database.run`)."""
    if fence is None:
        return
    _verdict(fence, session.execute(_statement(session, fence)).scalar_one_or_none())


async def advance(session: AsyncSession, fence: FenceToken) -> int:
    """Store ``fence.token`` for its scope unless a newer one is stored already; return the
    token stored now (larger than ``fence.token`` when the lease's counter fell behind, e.g.
    after Redis lost its data: the caller must then take a newer lease).

    Run it in a transaction of its own. Once that commits, no write under an older token can
    commit: on PostgreSQL the update waits for transactions that checked the older token
    (``FOR SHARE``), and every later check sees the new one.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Fence).values(scope=fence.scope, token=fence.token)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Fence.scope],
        set_={"token": stmt.excluded.token},
        where=Fence.token < stmt.excluded.token,
    )
    await session.execute(stmt)
    stored = await stored_token(session, fence.scope)
    return fence.token if stored is None else stored


async def stored_token(session: AsyncSession, scope: str) -> int | None:
    """The newest token stored for ``scope`` (tests, diagnostics)."""
    row = await session.execute(select(Fence.token).where(Fence.scope == scope))
    return row.scalar_one_or_none()
