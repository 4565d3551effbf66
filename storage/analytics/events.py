"""Writing analytics events inside the transaction of the fact they record.

Writers build `Event` values (plain data: storage imports neither bots nor handoff) and call
`record` (a synchronous session: the turn's group commit) or `record_async` (an async one) in
the transaction that stores the fact. The insert is ``ON CONFLICT (kind, key) DO NOTHING``, so
the second run of a redelivered message or a retried job adds nothing. What every kind means,
and which key makes it unique, is in ``METRICS.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.analytics.models import EVENTS
from storage.models import Message
from storage.repositories._sql import insert_ignoring_conflicts

__all__ = [
    "Event",
    "anonymise",
    "decisions",
    "delivery_failed",
    "handoff_cause",
    "phrase",
    "record",
    "record_async",
    "record_delivery_failed",
]

#: Escalation reasons (the dialogue's, handoff's, a take-over's) -> the handoff causes counted.
CAUSES = {
    "customer_asked_for_a_person": "request",
    "request_human": "request",
    "repeated_misunderstanding": "misses",
    "order_number_not_understood": "misses",
    "fallback": "misses",
    "complaint": "complaint",
    "processing_error": "error",
    "backend_error": "error",
    "agent_initiated": "take_over",
    "take_over": "take_over",
    "stale_order": "rule",
}
PHRASE_LENGTH = 200
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Event:
    """One row of ``analytics_events`` (see `storage.analytics.models.AnalyticsEvent`)."""

    kind: str
    key: str
    at: dt.datetime
    customer_id: int | None = None
    conversation_key: str | None = None
    ticket_id: int | None = None
    channel: str | None = None
    language: str | None = None
    intent: str | None = None
    team: str | None = None
    agent_id: int | None = None
    reason: str | None = None
    value: float | None = None
    value_bh: float | None = None
    text: str | None = None
    data: dict[str, Any] | None = None


def handoff_cause(reason: str | None) -> str:
    """The counted cause of an escalation reason: request, misses, complaint, error,
    take_over, rule, alert or other."""
    if not reason:
        return "other"
    if reason.startswith("alert:"):
        return "alert"
    return CAUSES.get(reason, "other")


def phrase(text: str | None) -> str | None:
    """A message's text as a fallback phrase: lower case, spaces collapsed, cut short."""
    if not text:
        return None
    cleaned = _SPACES.sub(" ", text).strip().lower()
    return cleaned[:PHRASE_LENGTH] or None


_FIELDS: tuple[str, ...] = ()


def _rows(events: Sequence[Event]) -> list[dict[str, Any]]:
    """The insert's parameters (not `dataclasses.asdict`: its deep copies were most of the
    cost of writing an event)."""
    global _FIELDS
    if not _FIELDS:
        _FIELDS = tuple(f.name for f in fields(Event))
    return [{name: getattr(e, name) for name in _FIELDS} for e in events]


def _insert(s: Session | AsyncSession) -> Any:
    return insert_ignoring_conflicts(s, EVENTS, ["kind", "key"])


def decisions(rows: Sequence[Mapping[str, Any]]) -> list[Event]:
    """``proactive.<decision>`` events of proactive decision rows (the columns of
    `storage.proactive_models.ProactiveDecision`): one per message and decision, so a message
    deferred twice and then sent counts once as deferred and once as sent."""
    return [
        Event(
            kind=f"proactive.{row['decision']}",
            key=str(row["job_id"]),
            at=row["at"],
            customer_id=row["customer_id"],
            channel=row.get("channel"),
            intent=row.get("scenario"),
            team=row.get("topic"),
        )
        for row in rows
    ]


def delivery_failed(
    message_id: int,
    channel: str,
    cause: str,
    at: dt.datetime,
    *,
    customer_id: int | None = None,
    failed_at: dt.datetime | None = None,
) -> Event:
    """``delivery.failed``: a reply given up on (``cause``: rejected, unreachable,
    outside_window, server_error, rate_limited, not_configured...), once per message. ``at``
    is the reply's own time (the bot's clock); ``failed_at`` the outbox's real give-up."""
    data = {"failed_at": failed_at.isoformat()} if failed_at is not None else None
    return Event(
        kind="delivery.failed",
        key=str(message_id),
        at=at,
        customer_id=customer_id,
        channel=channel,
        reason=cause,
        data=data,
    )


async def record_delivery_failed(
    s: AsyncSession, message_id: int, channel: str, cause: str, failed_at: dt.datetime
) -> None:
    """In the transaction that marks the reply failed: its ``delivery.failed``, with the reply's
    customer and counted at the reply's time. The reply row was stored on the bot's clock (the
    clock of every other event), while the outbox only knows the real one; a give-up follows
    its reply within the retries' minutes, and is counted in the cohort of what it concludes."""
    row = (
        await s.execute(
            select(Message.customer_id, Message.created_at).where(Message.id == message_id)
        )
    ).first()
    at = row.created_at if row is not None and row.created_at is not None else failed_at
    customer = row.customer_id if row is not None else None
    fact = delivery_failed(
        message_id, channel, cause, at, customer_id=customer, failed_at=failed_at
    )
    await record_async(s, [fact])


def record(s: Session, events: Sequence[Event]) -> None:
    """Insert ``events`` in the caller's transaction; one already there (same kind and key)
    is left as it is."""
    if events:
        s.execute(_insert(s), _rows(events))


async def record_async(s: AsyncSession, events: Sequence[Event]) -> None:
    """`record` for an async session."""
    if events:
        await s.execute(_insert(s), _rows(events))


async def anonymise(s: AsyncSession, customer_id: int) -> int:
    """Cut the customer's events loose from them (an erasure sets ``customer_id`` NULL). No
    aggregate reads ``customer_id``, so no count, rate or time changes. Returns how many
    events were touched. (The fallback phrases they typed, ``text``, are the erasure's to blank:
    only the top-phrases list reads them.)"""
    c = EVENTS.c
    result = await s.execute(
        update(EVENTS).where(c.customer_id == customer_id).values(customer_id=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)
