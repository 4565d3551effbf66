"""Group commit of processed turns: the inbound message, its replies, and bookkeeping.

A worker process handles many customers at once, and each turn ends with the same small write
(one inbound row with its session snapshot, the replies). Writing each in its own transaction
makes a single-writer database like SQLite the bottleneck. `TurnWriter` queues turns and writes
everything queued in one transaction with multi-row inserts: while one batch is being
committed, the next one gathers. No turn waits for a timer; a lone turn is written at once.

If a batch fails, its turns are retried one by one, so one bad turn cannot fail the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from storage.analytics.events import Event, record
from storage.db import Database
from storage.errors import FenceLost
from storage.fences import FenceToken, check_sync
from storage.group_commit import MAX_BATCH, GroupCommit
from storage.models import ChannelIdentity, Customer
from storage.repositories._sql import insert_ignoring_conflicts
from storage.repositories.messages import (
    INBOUND_KEY,
    INBOUND_WHERE,
    MESSAGES,
    inbound_values,
    outbound_values,
)

__all__ = ["Reply", "Turn", "TurnWrite", "TurnWriter", "Written"]


@dataclass(slots=True)
class Reply:
    sender_kind: str
    text: str | None
    body: dict[str, Any] | None
    status: str = "pending"  # "pending" (the outbox sends it) or "sent" (answered in-request)
    due_at: dt.datetime | None = None


#: More of a turn's writes (a proactive nudge armed or cancelled) for its transaction: run
#: once the message is stored as new, before the touches; returns analytics events to record.
TurnWrite = Callable[[Session], Sequence[Event]]


@dataclass(slots=True)
class Turn:
    customer_id: int
    conversation_id: int | None
    channel: str
    external_user_id: str
    platform_message_id: str
    text: str | None
    payload: str | None
    intent: str | None
    session_snapshot: dict[str, Any] | None
    now: dt.datetime
    replies: list[Reply] = field(default_factory=list)
    touch: bool = False  # also update the customer's last seen and the identity's last inbound
    fence: FenceToken | None = None  # the lease the turn ran under; stale: nothing is written
    claimed_by: str | None = None  # the outbox that will send the pending replies
    events: list[Event] = field(default_factory=list)  # analytics, written only with the message
    body: dict[str, Any] | None = None  # the inbound row's: a shared contact phone, a title
    writes: list[TurnWrite] = field(default_factory=list)  # more, in the same transaction


@dataclass(frozen=True, slots=True)
class Written:
    inbound_id: int | None  # None: this message was recorded before (a duplicate)
    reply_ids: tuple[int, ...] = ()
    # older replies to the same chat still pending (id, body), oldest first: left by a process
    # that died or stalled before sending them; they must go out before this turn's replies
    earlier: tuple[tuple[int, dict[str, Any] | None], ...] = ()


class TurnWriter:
    """Writes turns in batches. `write` returns once the turn's transaction committed."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._commit: GroupCommit[Turn, Written | FenceLost] = GroupCommit(
            db,
            _write,
            name="turn writer",
            failed="writing a turn failed",
            max_batch=max_batch,
            # one bad turn cannot fail the others; an unexpected error fails the batch's turns
            # (never left waiting: their customers' later messages queue behind them)
            retry_alone=True,
        )

    async def write(self, turn: Turn) -> Written:
        """Queue a turn and wait until it is committed; raises `StorageError` if it is not
        (`FenceLost` when its lease passed to another holder)."""
        [result] = await self._commit.submit([turn])
        if isinstance(result, FenceLost):
            raise result
        return result

    async def close(self) -> None:
        await self._commit.close()


def _write(s: Session, all_turns: list[Turn]) -> list[Written | FenceLost]:
    """Check the turns' fences, then insert all inbound rows (duplicates skipped), then all
    replies, then the touches. A turn whose lease passed to another holder writes nothing."""
    lost: dict[FenceToken, FenceLost | None] = {}
    for t in all_turns:
        if t.fence is not None and t.fence not in lost:
            try:
                check_sync(s, t.fence)
                lost[t.fence] = None
            except FenceLost as e:
                lost[t.fence] = e
    turns = [t for t in all_turns if t.fence is None or lost[t.fence] is None]
    written = iter(_write_current(s, turns) if turns else [])
    return [
        lost[t.fence] or next(written) if t.fence is not None else next(written) for t in all_turns
    ]


def _write_current(s: Session, turns: list[Turn]) -> list[Written]:
    inbound_stmt = insert_ignoring_conflicts(s, MESSAGES, INBOUND_KEY, INBOUND_WHERE).returning(
        MESSAGES.c.id, MESSAGES.c.channel, MESSAGES.c.platform_message_id
    )
    # The same message twice in one batch: only the first is written, the second is a duplicate.
    keys: list[tuple[str, str] | None] = []
    seen: set[tuple[str, str]] = set()
    rows: list[dict[str, Any]] = []
    for t in turns:
        key = (t.channel, t.platform_message_id)
        if key in seen:
            keys.append(None)
            continue
        seen.add(key)
        keys.append(key)
        rows.append(_inbound_row(t))
    ids: dict[tuple[str, str], int] = {}
    if rows:
        for row in s.execute(inbound_stmt, rows).all():
            ids[(row.channel, row.platform_message_id)] = row.id
    inbound_ids = [ids.get(key) if key is not None else None for key in keys]
    # first the turns' other writes (job rows of a customer whose lock the turn holds), before
    # the touches lock customer rows that a proactive scheduler locks after its jobs
    facts = [
        e for t, i in zip(turns, inbound_ids, strict=True) if i for w in t.writes for e in w(s)
    ]

    reply_rows: list[dict[str, Any]] = []
    for t, inbound_id in zip(turns, inbound_ids, strict=True):
        if inbound_id is None:
            continue
        reply_rows.extend(_reply_row(t, r, inbound_id) for r in t.replies)
    replies_by_inbound: dict[int, list[int]] = {}
    if reply_rows:
        stmt = insert(MESSAGES).returning(MESSAGES.c.id, MESSAGES.c.in_reply_to_id)
        # ids grow in insertion order within one statement, so sorting by id restores the
        # order in which each turn listed its replies
        for row in sorted(s.execute(stmt, reply_rows).all(), key=lambda r: r.id):
            replies_by_inbound.setdefault(row.in_reply_to_id, []).append(row.id)

    for t, inbound_id in zip(turns, inbound_ids, strict=True):
        if inbound_id is not None and t.touch:
            _touch(s, t)
    earlier = _earlier_pending(s, turns, inbound_ids, replies_by_inbound)
    facts += [e for t, i in zip(turns, inbound_ids, strict=True) if i for e in t.events]
    record(s, facts)  # last: see storage.analytics.rollups on the table's lock
    return [
        Written(i, tuple(replies_by_inbound.get(i, ())), earlier.get(i, ()))
        if i is not None
        else Written(None)
        for i in inbound_ids
    ]


def _earlier_pending(
    s: Session,
    turns: list[Turn],
    inbound_ids: list[int | None],
    replies_by_inbound: dict[int, list[int]],
) -> dict[int, tuple[tuple[int, dict[str, Any] | None], ...]]:
    """For each turn with pending replies: the chat's older pending replies (one query)."""
    first_new: dict[int, tuple[tuple[str, str], int]] = {}
    for t, inbound_id in zip(turns, inbound_ids, strict=True):
        ids = replies_by_inbound.get(inbound_id) if inbound_id is not None else None
        if ids and any(r.status == "pending" for r in t.replies):
            assert inbound_id is not None
            first_new[inbound_id] = ((t.channel, t.external_user_id), min(ids))
    if not first_new:
        return {}
    chats = {chat for chat, _ in first_new.values()}
    c = MESSAGES.c
    rows = s.execute(
        select(c.id, c.channel, c.external_user_id, c.body)
        .where(
            c.status == "pending",
            c.direction == "out",
            tuple_(c.channel, c.external_user_id).in_(sorted(chats)),
        )
        .order_by(c.id)
    ).all()
    return {
        inbound_id: tuple(
            (r.id, r.body)
            for r in rows
            if (r.channel, r.external_user_id) == chat and r.id < first_id
        )
        for inbound_id, (chat, first_id) in first_new.items()
    }


def _inbound_row(t: Turn) -> dict[str, Any]:
    return inbound_values(
        customer_id=t.customer_id,
        conversation_id=t.conversation_id,
        channel=t.channel,
        external_user_id=t.external_user_id,
        platform_message_id=t.platform_message_id,
        text=t.text,
        payload=t.payload,
        intent=t.intent,
        session_snapshot=t.session_snapshot,
        now=t.now,
        body=t.body,
    )


def _reply_row(t: Turn, r: Reply, inbound_id: int) -> dict[str, Any]:
    return outbound_values(
        customer_id=t.customer_id,
        conversation_id=t.conversation_id,
        channel=t.channel,
        external_user_id=t.external_user_id,
        sender_kind=r.sender_kind,
        text=r.text,
        body=r.body,
        in_reply_to_id=inbound_id,
        now=t.now,
        status=r.status,
        due_at=r.due_at,
        claimed_by=t.claimed_by if r.status == "pending" else None,
    )


def _touch(s: Session, t: Turn) -> None:
    s.execute(
        update(Customer)
        .where(Customer.id == t.customer_id)
        .values(last_seen_at=t.now, last_channel=t.channel)
    )
    s.execute(
        update(ChannelIdentity)
        .where(
            ChannelIdentity.channel == t.channel,
            ChannelIdentity.external_id == t.external_user_id,
        )
        .values(last_inbound_at=t.now, reachable=True)
    )
