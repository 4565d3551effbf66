"""The erasure's steps in the SQL database, one transaction each (`bots.privacy.erasure`).

Rows are anonymised, not deleted, wherever a count or a foreign key depends on them: a message
keeps its channel, direction, time and intent and loses its text; a ticket keeps its queue,
times and score and loses its texts; an identity keeps its id and channel and loses the chat id.
Every step is idempotent: run again, it finds nothing left to change (its count is then 0, and
the job keeps the first run's count).

Future bookings: a confirmed booking that has not started yet is cancelled and its slots are
freed (the business cannot reach a customer it no longer knows); past bookings stay as
anonymous history (service, staff, time) for the business's own counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Ticket, TicketEvent
from storage.analytics.models import AnalyticsEvent
from storage.inbox import InboxEntry
from storage.models import (
    Booking,
    BookingSlot,
    ChannelIdentity,
    Customer,
    CustomerMerge,
    CustomerPhone,
    LinkAttempt,
    LinkCode,
    Message,
    Order,
)
from storage.proactive_models import Consent, ProactiveEvent, ProactiveJob

__all__ = ["Subject", "load_subject"]

ERASED = "erased"


@dataclass(frozen=True)
class Subject:
    """Who is erased: the customer and the profiles merged into them, with what identifies
    them in other stores (read at the start of every run; after the profile step these are
    anonymised and the sets come back empty, which is what the later steps expect)."""

    customer_id: int
    ids: tuple[int, ...]
    identities: tuple[tuple[str, str], ...]  # (channel, external id)
    phones: frozenset[str]
    inbound: tuple[tuple[str, str], ...]  # (channel, platform message id) of their messages
    texts: frozenset[str]  # what they wrote (the review log matches on it)

    @property
    def ordering_keys(self) -> frozenset[str]:
        return frozenset(f"{c}:{e}" for c, e in self.identities)


async def load_subject(s: AsyncSession, customer_id: int, ids: list[int]) -> Subject:
    identities = await s.execute(
        select(ChannelIdentity.channel, ChannelIdentity.external_id).where(
            ChannelIdentity.customer_id.in_(ids), ChannelIdentity.reachable.is_(True)
        )
    )
    phones = set(await s.scalars(select(CustomerPhone.phone).where(_of(CustomerPhone, ids))))
    phones |= {p for p in await s.scalars(select(Customer.phone).where(Customer.id.in_(ids))) if p}
    inbound = await s.execute(
        select(Message.channel, Message.platform_message_id, Message.text).where(
            _of(Message, ids), Message.direction == "in"
        )
    )
    rows = list(inbound.all())
    return Subject(
        customer_id=customer_id,
        ids=tuple(ids),
        identities=tuple((c, e) for c, e in identities.all() if not e.startswith(ERASED)),
        phones=frozenset(phones),
        inbound=tuple((c, p) for c, p, _ in rows if p),
        texts=frozenset(t.strip() for _, _, t in rows if t and t.strip()),
    )


def _of(model: Any, ids: tuple[int, ...] | list[int]) -> Any:
    return model.customer_id.in_(ids)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def transcript(s: AsyncSession, who: Subject, now: dt.datetime) -> int:
    """Message texts, button payloads, serialised bodies and session snapshots go; a reply
    still waiting in the outbox is given up (it would be sent empty)."""
    await s.execute(
        update(Message)
        .where(_of(Message, who.ids), Message.status == "pending")
        .values(status="undeliverable", next_attempt_at=None)
    )
    result = await s.execute(
        update(Message)
        .where(_of(Message, who.ids), Message.external_user_id != ERASED)
        .values(
            text=None,
            payload=None,
            body=None,
            session_snapshot=None,
            error=None,
            external_user_id=ERASED,
        )
    )
    return _count(result)


async def inbox(s: AsyncSession, who: Subject, now: dt.datetime) -> int:
    """The gateway's record of each accepted event keeps its platform id (a redelivery is still
    recognised) and loses the event and the sender."""
    if not who.ordering_keys:
        return 0
    result = await s.execute(
        update(InboxEntry)
        .where(InboxEntry.ordering_key.in_(who.ordering_keys))
        .values(body=b"", ordering_key=ERASED, done_at=now)
    )
    return _count(result)


async def tickets(s: AsyncSession, who: Subject, now: dt.datetime) -> int:
    """Ticket texts (resolution notes, the unfinished task's slots) and the texts in their
    timelines go; times, queues, agents and scores stay for the metrics."""
    found = list(await s.scalars(select(Ticket).where(_of(Ticket, who.ids))))
    for ticket in found:
        ticket.resolution = None
        ticket.slots = {}
        ticket.task = None
    events = await s.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id.in_([t.id for t in found]))
    )
    for event in events:
        kept = {k: v for k, v in event.data.items() if _not_text(v)}
        if kept != event.data:
            event.data = kept
    return len(found)


def _not_text(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float))


async def bookings(s: AsyncSession, who: Subject, now: dt.datetime) -> int:
    """Future confirmed bookings are cancelled and their slots freed; every booking loses the
    name and phone given for it."""
    future = list(
        await s.scalars(
            select(Booking.id).where(
                _of(Booking, who.ids), Booking.status == "confirmed", Booking.starts_at > now
            )
        )
    )
    if future:
        await s.execute(delete(BookingSlot).where(BookingSlot.booking_id.in_(future)))
        await s.execute(update(Booking).where(Booking.id.in_(future)).values(status="cancelled"))
    result = await s.execute(
        update(Booking)
        .where(_of(Booking, who.ids), or_(Booking.name.is_not(None), Booking.phone.is_not(None)))
        .values(name=None, phone=None)
    )
    return _count(result)


async def orders(s: AsyncSession, who: Subject, now: dt.datetime) -> int:
    """Orders keep what was bought (the shop's books) and lose the phone they were placed
    with; an order found by the phone alone is linked to nobody."""
    where = _of(Order, who.ids)
    if who.phones:
        where = or_(where, Order.phone.in_(who.phones))
    result = await s.execute(
        update(Order).where(where, Order.phone.is_not(None)).values(phone=None)
    )
    return _count(result)


async def proactive(s: AsyncSession, who: Subject, now: dt.datetime) -> int:
    """Scheduled messages are cancelled and every job's variables (names, times, references)
    blanked; the business's events lose how they named the customer; consents keep the choice
    and lose the words."""
    await s.execute(
        update(ProactiveJob)
        .where(_of(ProactiveJob, who.ids), ProactiveJob.status == "scheduled")
        .values(status="cancelled", decision="cancelled", reason="customer erased", updated_at=now)
    )
    result = await s.execute(
        update(ProactiveJob)
        .where(_of(ProactiveJob, who.ids))
        .values(variables={}, claimed_by=None, lease_until=None)
    )
    await s.execute(
        update(ProactiveEvent)
        .where(_of(ProactiveEvent, who.ids))
        .values(fingerprint=ERASED, result={})
    )
    await s.execute(update(Consent).where(_of(Consent, who.ids)).values(text=""))
    return _count(result)


async def analytics(s: AsyncSession, who: Subject, now: dt.datetime) -> int:
    """Events keep every dimension the metrics count and lose the customer and the phrase
    they typed (the rollups never read either, so no aggregate moves)."""
    result = await s.execute(
        update(AnalyticsEvent)
        .where(_of(AnalyticsEvent, who.ids))
        .values(customer_id=None, text=None)
    )
    return _count(result)


async def links(s: AsyncSession, who: Subject, now: dt.datetime) -> int:
    """Linking codes (they carry a phone) and the attempts of the customer's chats go; merge
    records keep which rows moved and lose the profile and session copies kept for an undo."""
    removed = _count(
        await s.execute(
            delete(LinkCode).where(
                or_(LinkCode.customer_id.in_(who.ids), LinkCode.requester_id.in_(who.ids))
            )
        )
    )
    for channel, external_id in who.identities:
        removed += _count(
            await s.execute(
                delete(LinkAttempt).where(
                    LinkAttempt.channel == channel, LinkAttempt.external_id == external_id
                )
            )
        )
    merges = await s.execute(
        update(CustomerMerge)
        .where(or_(CustomerMerge.survivor_id.in_(who.ids), CustomerMerge.absorbed_id.in_(who.ids)))
        .values(survivor_before={}, absorbed_session=None)
    )
    return removed + _count(merges)


async def profile(s: AsyncSession, who: Subject, now: dt.datetime) -> int:
    """The profiles lose name, phone, e-mail, time zone and consent flags; their phones go;
    each channel identity keeps its row (and id) with the chat id replaced and marked
    unreachable, so a new message from that chat starts a new, unknown customer."""
    await s.execute(delete(CustomerPhone).where(_of(CustomerPhone, who.ids)))
    result = await s.execute(
        update(Customer)
        .where(Customer.id.in_(who.ids))
        .values(display_name=None, phone=None, email=None, timezone=None, consent={})
    )
    identities = await s.scalars(select(ChannelIdentity).where(_of(ChannelIdentity, who.ids)))
    for identity in identities:
        identity.external_id = f"{ERASED}:{identity.id}"
        identity.display_name = None
        identity.reachable = False
    return _count(result)


#: The SQL steps in the order they run (names are the receipt's keys).
SQL_STEPS = (
    ("orders", orders),
    ("bookings", bookings),
    ("transcript", transcript),
    ("inbox", inbox),
    ("tickets", tickets),
    ("proactive", proactive),
    ("analytics", analytics),
    ("links", links),
    ("profile", profile),
)
