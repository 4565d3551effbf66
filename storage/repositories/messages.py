"""The transcript of every message, which doubles as the outbound outbox."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Table, Update, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Message
from storage.repositories._sql import claim_first, insert_ignoring_conflicts

__all__ = ["OUTBOUND_FINAL", "MessageRepository"]

MESSAGES = cast(Table, Message.__table__)
# the partial unique index that makes a redelivered inbound message a no-op
INBOUND_KEY = ["channel", "platform_message_id"]
# A literal predicate: PostgreSQL infers a partial index for ON CONFLICT only from the same
# expression, and a bound parameter ("direction = $1") does not always match it.
INBOUND_WHERE = text("direction = 'in'")
_INSERT_MESSAGE = insert(MESSAGES).returning(MESSAGES.c.id)
_INSERT_INBOUND: dict[str, Any] = {}  # per dialect: INSERT ... ON CONFLICT DO NOTHING

#: Statuses after which the outbox sweeper leaves a row alone.
OUTBOUND_FINAL = frozenset({"sent", "failed", "undeliverable", "delivered", "seen"})
# A delivery receipt never moves a message backwards (a late "delivered" after "seen").
_RECEIPT_FROM = {
    "delivered": ("pending", "sent"),
    "seen": ("pending", "sent", "delivered"),
}


def inbound_values(
    *,
    customer_id: int,
    conversation_id: int | None,
    channel: str,
    external_user_id: str,
    platform_message_id: str | None,
    text: str | None,
    payload: str | None,
    intent: str | None,
    session_snapshot: dict[str, Any] | None,
    now: dt.datetime,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Column values of an inbound transcript row. Its ``body`` holds what the customer sent
    besides text and payload: the tapped button's ``title``, a shared ``contact_phone``."""
    return {
        "customer_id": customer_id,
        "conversation_id": conversation_id,
        "channel": channel,
        "external_user_id": external_user_id,
        "direction": "in",
        "sender_kind": "customer",
        "text": text,
        "payload": payload,
        "platform_message_id": platform_message_id,
        "intent": intent,
        "status": "received",
        "attempts": 0,
        "session_snapshot": session_snapshot,
        "created_at": now,
        "body": body,
    }


def outbound_values(
    *,
    customer_id: int,
    conversation_id: int | None,
    channel: str,
    external_user_id: str,
    sender_kind: str,
    text: str | None,
    body: dict[str, Any] | None,
    in_reply_to_id: int | None,
    now: dt.datetime,
    status: str = "pending",
    due_at: dt.datetime | None = None,
    claimed_by: str | None = None,
) -> dict[str, Any]:
    """Column values of a reply: pending (due ``due_at`` or now) or already sent (REST).

    ``claimed_by`` names the outbox that will send a pending reply before ``due_at`` (its
    lease); after that any process's sweeper may claim it."""
    if status not in ("pending", "sent"):
        raise ValueError(f"a new outbound message is pending or sent, not {status!r}")
    sent = status == "sent"
    return {
        "customer_id": customer_id,
        "conversation_id": conversation_id,
        "channel": channel,
        "external_user_id": external_user_id,
        "direction": "out",
        "sender_kind": sender_kind,
        "text": text,
        "body": body,
        "in_reply_to_id": in_reply_to_id,
        "status": status,
        "attempts": 0,
        "next_attempt_at": None if sent else (due_at or now),
        "created_at": now,
        "sent_at": now if sent else None,
        "claimed_by": None if sent else claimed_by,
    }


def mark_sent_statement(
    message_id: int, platform_message_id: str | None, now: dt.datetime
) -> Update:
    """The UPDATE that records a reply the platform accepted (sync or async sessions)."""
    return (
        update(Message)
        .where(Message.id == message_id)
        .values(
            status="sent",
            platform_message_id=platform_message_id,
            sent_at=now,
            next_attempt_at=None,
            error=None,
        )
    )


class MessageRepository:
    """Writes transcript lines and drives the outbox."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_inbound(
        self,
        *,
        customer_id: int,
        conversation_id: int | None,
        channel: str,
        external_user_id: str,
        platform_message_id: str | None,
        text: str | None,
        payload: str | None = None,
        intent: str | None = None,
        session_snapshot: dict[str, Any] | None = None,
        now: dt.datetime,
    ) -> Message | None:
        """Record an inbound message; None when (channel, platform_message_id) exists.

        ``session_snapshot`` is the session as it will be after this turn, stored with the
        message so a crash between this commit and the session save can be repaired."""
        params = inbound_values(
            customer_id=customer_id,
            conversation_id=conversation_id,
            channel=channel,
            external_user_id=external_user_id,
            platform_message_id=platform_message_id,
            text=text,
            payload=payload,
            intent=intent,
            session_snapshot=session_snapshot,
            now=now,
        )
        dialect = self.session.get_bind().dialect.name
        stmt = _INSERT_INBOUND.get(dialect)
        if stmt is None:
            stmt = _INSERT_INBOUND[dialect] = insert_ignoring_conflicts(
                self.session, MESSAGES, INBOUND_KEY, INBOUND_WHERE
            ).returning(MESSAGES.c.id)
        new_id: int | None = (await self.session.execute(stmt, params)).scalar()
        return None if new_id is None else await self.session.get(Message, new_id)

    async def find_inbound(self, channel: str, platform_message_id: str) -> Message | None:
        """The inbound message with this platform id, or None."""
        return await self.session.scalar(
            select(Message).where(
                Message.channel == channel,
                Message.direction == "in",
                Message.platform_message_id == platform_message_id,
            )
        )

    async def add_outbound(
        self,
        customer_id: int,
        conversation_id: int | None,
        channel: str,
        external_user_id: str,
        sender_kind: str,
        text: str | None,
        body: dict[str, Any] | None,
        in_reply_to_id: int | None,
        now: dt.datetime,
        *,
        status: str = "pending",
        due_at: dt.datetime | None = None,
    ) -> Message:
        """Put a reply into the outbox: status "pending", due ``due_at`` (default ``now``).

        A process that sends the reply itself right away passes a ``due_at`` in the future:
        the sweeper then leaves the row alone unless that process dies before sending it.
        ``status="sent"`` records a reply that was delivered in the request itself (REST).
        """
        params = outbound_values(
            customer_id=customer_id,
            conversation_id=conversation_id,
            channel=channel,
            external_user_id=external_user_id,
            sender_kind=sender_kind,
            text=text,
            body=body,
            in_reply_to_id=in_reply_to_id,
            now=now,
            status=status,
            due_at=due_at,
        )
        # A Core insert of the table with the values as execution parameters: compiled once
        # and cached, where an ORM `.values(...)` statement is rebuilt for every message.
        stmt = _INSERT_MESSAGE
        new_id: int = (await self.session.execute(stmt, params)).scalar_one()
        message = await self.session.get(Message, new_id)
        assert message is not None
        return message

    async def replies_to(self, inbound_id: int) -> list[Message]:
        """Outbound messages caused by one inbound message, in creation order."""
        rows = await self.session.scalars(
            select(Message).where(Message.in_reply_to_id == inbound_id).order_by(Message.id)
        )
        return list(rows)

    async def claim_due_outbound(
        self, now: dt.datetime, lease_seconds: float, limit: int, claimed_by: str | None = None
    ) -> list[Message]:
        """Take up to ``limit`` pending rows due at ``now`` for sending.

        In one statement the rows' ``next_attempt_at`` moves to ``now + lease_seconds`` and
        ``attempts`` grows by one, so a concurrent sweeper never gets the same row
        (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers). A row whose
        sender crashed becomes due again when the lease runs out. The rows are marked
        ``claimed_by`` the caller, so a sender that stalled past its lease learns that they
        are no longer its to send (`reclaim`).
        """
        due = (Message.status == "pending", Message.next_attempt_at <= now)
        stmt = claim_first(
            self.session,
            Message,
            due,
            (Message.next_attempt_at, Message.id),
            limit,
            {
                "next_attempt_at": now + dt.timedelta(seconds=lease_seconds),
                "attempts": Message.attempts + 1,
                "claimed_by": claimed_by,
            },
        )
        rows = list(await self.session.scalars(stmt))
        rows.sort(key=lambda m: (m.created_at, m.id))
        return rows

    async def extend_leases(
        self, message_ids: list[int], until: dt.datetime, claimed_by: str | None = None
    ) -> int:
        """Keep pending replies that a live process still holds in memory away from other
        processes' sweepers: push ``next_attempt_at`` to ``until`` (never earlier).

        With ``claimed_by``, only rows that are unclaimed or claimed by that process are
        extended (and become its): a process waking from a stall cannot extend the lease of a
        reply that another process's sweeper has claimed meanwhile.
        """
        if not message_ids:
            return 0
        stmt = update(Message).where(
            Message.id.in_(message_ids),
            Message.status == "pending",
            Message.next_attempt_at < until,
        )
        values: dict[str, Any] = {"next_attempt_at": until}
        if claimed_by is not None:
            stmt = stmt.where(or_(Message.claimed_by.is_(None), Message.claimed_by == claimed_by))
            values["claimed_by"] = claimed_by
        result = await self.session.execute(stmt.values(**values))
        return int(getattr(result, "rowcount", 0) or 0)

    async def reclaim(
        self, message_id: int, claimed_by: str, now: dt.datetime, until: dt.datetime
    ) -> bool:
        """Make sure a pending reply is still the caller's to send, holding it until ``until``.

        True when it is pending and unclaimed, claimed by ``claimed_by``, or its lease ran out;
        False when it was sent, given up, or another process holds it now.
        """
        result = await self.session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.status == "pending",
                or_(
                    Message.claimed_by.is_(None),
                    Message.claimed_by == claimed_by,
                    Message.next_attempt_at <= now,
                ),
            )
            .values(claimed_by=claimed_by, next_attempt_at=until)
        )
        return bool(getattr(result, "rowcount", 0))

    async def holder(self, message_id: int) -> tuple[str, str | None, dt.datetime | None] | None:
        """(status, claimed by, lease or retry time) of an outbound row; None when it is gone."""
        row = (
            await self.session.execute(
                select(Message.status, Message.claimed_by, Message.next_attempt_at).where(
                    Message.id == message_id
                )
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    async def mark_sent(
        self, message_id: int, platform_message_id: str | None, now: dt.datetime
    ) -> None:
        """The platform accepted the message."""
        await self.session.execute(mark_sent_statement(message_id, platform_message_id, now))

    async def schedule_retry(self, message_id: int, at: dt.datetime, error: str) -> None:
        """Sending failed transiently; try again at ``at``."""
        await self._set(message_id, status="pending", next_attempt_at=at, error=error)

    async def mark_failed(self, message_id: int, status: str, error: str) -> None:
        """Give up: ``status`` is "failed" or "undeliverable" (user blocked the bot...)."""
        if status not in ("failed", "undeliverable"):
            raise ValueError(f"not a failure status: {status!r}")
        await self._set(message_id, status=status, next_attempt_at=None, error=error)

    async def set_delivery_status(
        self, channel: str, platform_message_id: str, status: str, error: str | None = None
    ) -> bool:
        """Apply a platform receipt ("delivered", "seen", "failed"...); False if no row changed."""
        stmt = update(Message).where(
            Message.channel == channel,
            Message.direction == "out",
            Message.platform_message_id == platform_message_id,
        )
        if status in _RECEIPT_FROM:
            stmt = stmt.where(Message.status.in_(_RECEIPT_FROM[status]))
        values: dict[str, Any] = {"status": status}
        if error is not None:
            values["error"] = error
        result = await self.session.execute(stmt.values(**values).returning(Message.id))
        return bool(result.all())

    async def transcript(self, customer_id: int, limit: int | None = None) -> list[Message]:
        """The customer's messages across channels in time order (the last ``limit`` if set)."""
        stmt = select(Message).where(Message.customer_id == customer_id)
        if limit is None:
            return list(await self.session.scalars(stmt.order_by(Message.created_at, Message.id)))
        newest = await self.session.scalars(
            stmt.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
        )
        return list(reversed(list(newest)))

    async def _set(self, message_id: int, **values: Any) -> None:
        await self.session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(**values)
            .execution_options(synchronize_session="fetch")
        )
