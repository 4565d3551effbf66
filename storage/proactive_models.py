"""Tables of proactive messages (issue 14): scheduled jobs, the decision log, the consent log.

Kept beside `storage.models` (which they extend, on the same metadata) because that module is
at its size limit. `storage.repositories.proactive` reads and writes them;
`storage.repositories.identity_merges` imports them so that a merge moves them too.

- `ProactiveJob`: one message due at ``due_at`` for one customer; UNIQUE (customer, scenario,
  occurrence, step) makes a repeated trigger insert nothing. ``status`` is ``scheduled`` until a
  scheduler decides it (``done``) or a cancel ends it (``cancelled``); ``decision`` and
  ``reason`` say what happened last. ``claimed_by`` / ``lease_until`` (real time, not the
  bot's clock) are a scheduler's claim.
- `ProactiveDecision`: append-only, one row per decision (deferred twice then sent: 3 rows).
- `Consent`: append-only; the latest row per (customer, topic) is the customer's choice.
- `ProactiveEvent`: an event the business posted (`POST /api/events`), unique by its id: a
  repeated post changes nothing and is answered as the first was.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId, utcnow

__all__ = [
    "DECISIONS",
    "JOB_STATUSES",
    "Consent",
    "ProactiveDecision",
    "ProactiveEvent",
    "ProactiveJob",
]

JOB_STATUSES = ("scheduled", "done", "cancelled")
DECISIONS = ("sent", "deferred", "capped", "suppressed", "unreachable", "expired", "cancelled")


class ProactiveJob(Base):
    """A message the business sends first, due at ``due_at`` (the bot's clock)."""

    __tablename__ = "proactive_jobs"
    __table_args__ = (
        UniqueConstraint("customer_id", "scenario", "occurrence", "step"),
        Index(None, "status", "due_at"),
        # a customer's scheduled jobs by due time (every flow message looks them up): with
        # (status, due_at) alone SQLite read every scheduled job of every customer
        Index(None, "customer_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    scenario: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(Integer)
    occurrence: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    decision: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(32))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cancel_on: Mapped[list[Any]] = mapped_column(default=list)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProactiveDecision(Base):
    """What a scheduler (or a cancel) decided about a job, and why."""

    __tablename__ = "proactive_decisions"
    __table_args__ = (Index(None, "customer_id", "topic", "decision", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("proactive_jobs.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    scenario: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Consent(Base):
    """A customer's yes or no to one topic: when, where from, and the words seen or said."""

    __tablename__ = "consents"
    __table_args__ = (Index(None, "customer_id", "topic", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))  # "telegram:button", "viber:text", "admin"
    text: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProactiveEvent(Base):
    """An event of the business's systems, accepted once: its id is unique, and ``result``
    (the jobs it created, what it cancelled) is the answer to every repeat of it."""

    __tablename__ = "proactive_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(String(400))  # type + how the customer was named
    at: Mapped[dt.datetime]  # when it happened (the anchor of its messages)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
