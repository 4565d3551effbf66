"""SQLAlchemy models: customers and their channel identities, conversations, the message
transcript (which is also the outbound outbox), demo shop orders, and the clinic's services,
staff and bookings (with the slot claims that make double booking impossible; see
`storage.repositories.bookings`).

Datetimes are timezone-aware UTC in Python. `UtcDateTime` stores them portably: ``timestamptz``
on PostgreSQL, naive UTC on SQLite (which has no time zones), and always returns aware values.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import false, text, true

__all__ = [
    "Base",
    "Booking",
    "BookingSlot",
    "ChannelIdentity",
    "Conversation",
    "Customer",
    "CustomerMerge",
    "CustomerPhone",
    "LinkAttempt",
    "LinkCode",
    "Message",
    "Order",
    "Service",
    "Staff",
    "UtcDateTime",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; INTEGER on SQLite, where only "INTEGER PRIMARY KEY" autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every dialect; naive values are rejected."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with the constraint naming convention Alembic relies on."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON(none_as_null=True),
        list[Any]: JSON(none_as_null=True),
    }


class Customer(Base):
    """One person, whichever channels they write from."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime | None]
    last_channel: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA; None: the business's
    # {"marketing": bool, "transcripts": bool, ...}: what the customer agreed to
    consent: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    # set when this profile was merged into another one (kept, not deleted, for undo)
    merged_into_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CustomerPhone(Base):
    """A phone number of a customer; ``verified`` only when a platform vouched for it (a
    Telegram contact of the sender's own account, a Viber contact) or a code sent to it came
    back."""

    __tablename__ = "customer_phones"
    __table_args__ = (UniqueConstraint("customer_id", "phone"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    phone: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    verified_via: Mapped[str | None] = mapped_column(String(32))  # channel or "code"
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LinkCode(Base):
    """A short-lived one-time code that links a channel identity to ``customer_id``.

    ``kind`` "deep_link": carried by a "continue in ..." link; "phone": sent to the channel
    where ``phone`` is verified and typed back by ``requester_id``. Only a hash is stored.
    """

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # deep_link | phone
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    requester_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE")
    )
    phone: Mapped[str | None] = mapped_column(String(32))
    sent_channel: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(170))  # "channel:external id"
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LinkAttempt(Base):
    """One code typed or opened by a channel user; failures in a window are rate-limited."""

    __tablename__ = "link_attempts"
    __table_args__ = (Index(None, "channel", "external_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CustomerMerge(Base):
    """A merge of ``absorbed_id`` into ``survivor_id``: who, when, why and exactly which rows
    moved (``moved``: table -> ids), so an admin can undo it."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    absorbed_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str] = mapped_column(String(100))  # "customer" | "admin" | ...
    reason: Mapped[str] = mapped_column(String(32))  # link_code, verified_phone, phone_code...
    moved: Mapped[dict[str, Any]] = mapped_column(default=dict)
    survivor_before: Mapped[dict[str, Any]] = mapped_column(default=dict)  # profile fields
    absorbed_session: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[dt.datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(100))


class ChannelIdentity(Base):
    """A customer's account on one platform (Telegram chat id, Viber user id, IGSID...)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(200))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_inbound_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    """A stretch of talk with a customer, across channels."""

    __tablename__ = "conversations"
    __table_args__ = (Index(None, "customer_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[dt.datetime | None]


class Message(Base):
    """A transcript line; outbound rows are also the outbox that the sender sweeps."""

    __tablename__ = "messages"
    __table_args__ = (
        # Inbound platform ids are unique per channel (redelivery dedup); outbound ones are
        # not (Telegram numbers messages per chat), so the uniqueness is partial.
        Index(
            "uq_messages_inbound_platform_id",
            "channel",
            "platform_message_id",
            unique=True,
            sqlite_where=text("direction = 'in'"),
            postgresql_where=text("direction = 'in'"),
        ),
        Index(None, "channel", "platform_message_id"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    external_user_id: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    sender_kind: Mapped[str] = mapped_column(String(16))  # customer | bot | agent
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)  # button payload of an inbound message
    body: Mapped[dict[str, Any] | None]  # the serialised outbound message
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    in_reply_to_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    intent: Mapped[str | None] = mapped_column(String(100))
    # in: received; out: pending | sent | failed | undeliverable | delivered | seen
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime | None]
    session_snapshot: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    # the process whose outbox holds this pending reply (re-checked after a stall, see Outbox)
    claimed_by: Mapped[str | None] = mapped_column(String(64))


class Fence(Base):
    """The newest fencing token of a lease scope (``q:<partition>``); see `storage.fences`."""

    __tablename__ = "fences"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)


class Order(Base):
    """A shop order (demo data behind the order-status flow)."""

    __tablename__ = "orders"
    # a customer's orders by a verified phone and no customer id, and every read by phone alone
    __table_args__ = (Index(None, "phone", "customer_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    phone: Mapped[str | None] = mapped_column(String(32))
    # new | paid | packed | shipped | delivered | cancelled | returned
    status: Mapped[str] = mapped_column(String(16), default="new")
    items: Mapped[list[Any]] = mapped_column(default=list)
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    eta: Mapped[dt.datetime | None]
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    # [{"status": "paid", "at": "2026-11-20T10:00:00+00:00"}, ...], oldest first
    status_history: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Service(Base):
    """Something a customer can book (a cleaning, a consultation), with its length and price."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_uk: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Staff(Base):
    """A person who serves bookings.

    ``skills`` lists service codes; ``working_hours`` maps a weekday ("mon" ... "sun") to local
    ``["HH:MM", "HH:MM"]`` intervals in ``timezone`` (several for a split shift).
    """

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # the name per language ({"uk": ..., "en": ...}); None or a missing language: ``name``
    names: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    skills: Mapped[list[Any]] = mapped_column(default=list)
    working_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timezone: Mapped[str] = mapped_column(
        String(64), default="Europe/Kyiv", server_default="Europe/Kyiv"
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Booking(Base):
    """A customer's appointment with one staff member for one service."""

    __tablename__ = "bookings"
    __table_args__ = (
        Index(None, "staff_id", "starts_at"),
        Index(None, "customer_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL")
    )
    service_id: Mapped[int] = mapped_column(BigId, ForeignKey("services.id"), index=True)
    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="confirmed")  # confirmed | cancelled
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BookingSlot(Base):
    """One occupied 15-minute cell of a staff member's time, claimed by a confirmed booking.

    The primary key (staff_id, slot_start) is what makes double booking impossible: two
    bookings that overlap share at least one cell, and the second INSERT fails on any database.
    """

    __tablename__ = "booking_slots"

    staff_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    slot_start: Mapped[dt.datetime] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
