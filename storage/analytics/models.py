"""Tables of the analytics (issue 15): the append-only events, their rollups, and the
rollups' watermark. The definitions of what each event means are in ``METRICS.md`` beside this
module.

- `AnalyticsEvent`: one fact, written in the transaction of the fact itself (the turn's group
  commit, the ticket's claim, the outbox's give-up...). UNIQUE (kind, key): a redelivered
  message or a retried job inserts nothing the second time. ``customer_id`` is the only link to
  a person and is set NULL by an erasure (or the customer row's deletion); no aggregate reads it.
- `AnalyticsRollup`: counts and value sums per local day and cell of dimensions, in the views
  of `storage.analytics.rollups.VIEWS` (by kind, channel, language, team, agent and reason;
  incoming messages by the hour of the day; with the intent; with the bucket). Dimensions a
  view does not keep, and "none", are "" and 0, never NULL, so that one unique constraint
  identifies a cell on both databases.
- `AnalyticsWatermark`: the id of the last event folded into the rollups, advanced in the same
  transaction as the increments.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import text

from storage.models import Base, BigId

__all__ = [
    "EVENTS",
    "READS",
    "READ_KINDS",
    "ROLLUPS",
    "AnalyticsEvent",
    "AnalyticsRollup",
    "AnalyticsWatermark",
]

_HAS_TICKET = text("ticket_id IS NOT NULL")
#: The kinds read by kind and time (the summary's times and fallback phrases, the CSV's anchors):
#: the only rows in ``ix_analytics_events_reads``, so a message's own events (``message.in``,
#: the tasks', proactive decisions) skip it. A query that wants the index says `READS` as well:
#: SQLite uses a partial index only for a query whose WHERE has the index's own terms, literally.
READ_KINDS = (
    "agent.first_response",
    "conversation.started",
    "fallback",
    "ticket.created",
    "ticket.resolved",
)
READS = text("kind IN (" + ", ".join(f"'{kind}'" for kind in READ_KINDS) + ")")

#: A rollup cell's key: its view and period, then the dimensions (the unique constraint).
CELL = (
    "view",
    "period",
    "kind",
    "channel",
    "language",
    "intent",
    "team",
    "agent_id",
    "reason",
    "bucket",
)


class AnalyticsEvent(Base):
    """One fact the metrics count (see METRICS.md for every kind)."""

    __tablename__ = "analytics_events"
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        # the summary's reads of a range's times and fallback phrases come out of the index,
        # filtered by channel, language, team or agent as well (0019)
        Index(
            "ix_analytics_events_reads",
            "kind",
            "at",
            "value",
            "value_bh",
            "text",
            "channel",
            "language",
            "team",
            "agent_id",
            sqlite_where=READS,
            postgresql_where=READS,
        ),
        # a customer's events of a kind in a window: first-contact resolution (came_back)
        Index(None, "customer_id", "kind", "at"),
        # the conversations CSV: a conversation's events, read out of the index (0020)
        Index(
            "ix_analytics_events_conversation_key", "conversation_key", "kind", "channel", "reason"
        ),
        Index(
            "ix_analytics_events_ticket_id",
            "ticket_id",
            sqlite_where=_HAS_TICKET,
            postgresql_where=_HAS_TICKET,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime]  # the bot clock's time the fact is counted at (METRICS.md)
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL")
    )
    conversation_key: Mapped[str | None] = mapped_column(String(200))
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(64))  # the handoff queue's topic
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)  # seconds, a score, a confidence
    value_bh: Mapped[float | None] = mapped_column(Float)  # business-hours seconds
    text: Mapped[str | None] = mapped_column(String(200))  # a fallback's normalised phrase
    data: Mapped[dict[str, Any] | None]


#: the columns of `ix_analytics_rollups_reads`: a view's range, the daily view's grouping, sums
ROLLUP_READ = (
    "view",
    "period",
    "kind",
    "channel",
    "reason",
    "language",
    "count",
    "value_milli",
    "value_bh_milli",
)


class AnalyticsRollup(Base):
    """Counts and sums of the events of one period in one cell of dimensions of one view."""

    __tablename__ = "analytics_rollups"
    __table_args__ = (
        UniqueConstraint(*CELL, name="uq_analytics_rollups_cell"),
        # a range of a view read in the summary's grouping order, out of the index (tally)
        Index("ix_analytics_rollups_reads", *ROLLUP_READ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    view: Mapped[str] = mapped_column(String(1))  # d, t, h, i or b (rollups.VIEWS)
    period: Mapped[dt.datetime]  # the (UTC) instant the local day starts
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str] = mapped_column(String(100))
    team: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(64))
    bucket: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(BigInteger)
    # sums in thousandths (integers: incremental sums equal a recount exactly)
    value_milli: Mapped[int] = mapped_column(BigInteger)
    value_bh_milli: Mapped[int] = mapped_column(BigInteger)


class AnalyticsWatermark(Base):
    """The last event id folded into the rollups (one row, ``name`` "rollups")."""

    __tablename__ = "analytics_watermark"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)


EVENTS = cast(Table, AnalyticsEvent.__table__)
ROLLUPS = cast(Table, AnalyticsRollup.__table__)
