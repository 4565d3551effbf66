"""Handoff tables on the shared `storage.models.Base` metadata: agents, their console
sessions, queues (topic + language), tickets and the ticket timeline.

Two guards make routing safe with many processes on one database:

- ``agents.load`` counts the agent's offered + assigned tickets and only ever moves with a
  conditional ``UPDATE ... WHERE load < max_tickets`` (so no agent exceeds the limit);
- a ticket changes hands only with ``UPDATE ... WHERE id = :id AND status = :expected`` (so no
  ticket is assigned twice), and the partial unique index on ``tickets(customer_id)`` over
  open tickets makes a second open ticket for one customer impossible (redelivered
  escalations are no-ops).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import false, text

from storage.models import Base, BigId, utcnow

__all__ = [
    "ANY_TOPIC",
    "OPEN_STATUSES",
    "ROLES",
    "Agent",
    "AgentSession",
    "HandoffQueue",
    "Ticket",
    "TicketEvent",
]

ROLES = ("agent", "supervisor", "admin")
#: A skill that covers every queue topic (the agent still needs the queue's language).
ANY_TOPIC = "*"
#: Ticket statuses: queued (waiting) -> offered (to one agent) -> assigned -> closed.
OPEN_STATUSES = ("queued", "offered", "assigned")
OPEN_WHERE = text("status <> 'closed'")


class Agent(Base):
    """A person who answers customers in the console."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="agent")  # agent | supervisor | admin
    skills: Mapped[list[Any]] = mapped_column(default=list)  # topics: orders, bookings...
    languages: Mapped[list[Any]] = mapped_column(default=list)  # uk, en
    max_tickets: Mapped[int] = mapped_column(Integer, default=3)
    load: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="away")  # online | away
    password_hash: Mapped[str | None] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime | None]


class AgentSession(Base):
    """A console login (cookie); the cookie carries the token, the table its hash."""

    __tablename__ = "agent_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("agents.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class HandoffQueue(Base):
    """Where tickets wait: one queue per topic and language."""

    __tablename__ = "handoff_queues"
    __table_args__ = (UniqueConstraint("topic", "language"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Ticket(Base):
    """One escalated conversation, from the escalation to the CSAT score."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "uq_tickets_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=OPEN_WHERE,
            postgresql_where=OPEN_WHERE,
        ),
        Index(None, "status", "priority", "created_at"),
        Index(None, "agent_id", "status"),
        Index(None, "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    queue_id: Mapped[int] = mapped_column(BigId, ForeignKey("handoff_queues.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    agent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("agents.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(String(100))
    intent: Mapped[str | None] = mapped_column(String(100))
    slots: Mapped[dict[str, Any]] = mapped_column(default=dict)
    task: Mapped[dict[str, Any] | None]  # the unfinished flow: name, step, slots, resume intent
    language: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(32))  # where the customer escalated
    priority: Mapped[int] = mapped_column(Integer, default=1)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    offer_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    offered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[dt.datetime | None]
    first_response_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    csat: Mapped[int | None] = mapped_column(Integer)
    csat_at: Mapped[dt.datetime | None]
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TicketEvent(Base):
    """The ticket's own timeline (created, offered, assigned, transferred, closed, csat...)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("agents.id", ondelete="SET NULL")
    )
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
