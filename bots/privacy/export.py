"""One machine-readable JSON document of everything omnirelay keeps about a customer.

The document (``format`` ``omnirelay.customer-export/1``) covers the customer and every profile
merged into them: profile and phones, channel identities, consents (current choices and the
log), bookings, orders linked by customer or phone, the transcript, tickets with their
timelines, CSAT answers, and proactive messages with their decisions. Rows are turned into JSON
column by column, so a column added later is exported without a change here; internal columns
(outbox leases, session snapshots, serialised outbound bodies) are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Ticket, TicketEvent
from storage.db import Database
from storage.errors import NotFound
from storage.models import (
    Base,
    Booking,
    ChannelIdentity,
    Customer,
    CustomerPhone,
    Message,
    Order,
    Service,
)
from storage.proactive_models import Consent, ProactiveDecision, ProactiveJob

__all__ = ["FORMAT", "customer_ids", "export_customer", "summary"]

FORMAT = "omnirelay.customer-export/1"
_INTERNAL = frozenset(
    {"session_snapshot", "body", "claimed_by", "lease_until", "next_attempt_at", "attempts"}
)


def row(obj: Base, skip: Iterable[str] = ()) -> dict[str, Any]:
    """A model row as JSON-ready values, column by column (internal columns left out)."""
    left_out = _INTERNAL | frozenset(skip)
    out: dict[str, Any] = {}
    for column in obj.__table__.columns:
        if column.key in left_out:
            continue
        out[column.key] = _plain(getattr(obj, column.key))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


async def customer_ids(s: AsyncSession, customer_id: int) -> list[int]:
    """The customer and every profile merged into them (transitively), the customer first.
    Raises `NotFound` for an unknown id."""
    if await s.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found")
    found, frontier = [customer_id], [customer_id]
    while frontier:
        rows = await s.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier)))
        frontier = [i for i in rows if i not in found]
        found.extend(frontier)
    return found


async def export_customer(db: Database, customer_id: int, now: dt.datetime) -> dict[str, Any]:
    """The export document of ``customer_id`` (`NotFound` for an unknown id)."""
    async with db.session() as s:
        ids = await customer_ids(s, customer_id)
        customers = list(await s.scalars(select(Customer).where(Customer.id.in_(ids))))
        phones = list(await s.scalars(select(CustomerPhone).where(_of(CustomerPhone, ids))))
        doc: dict[str, Any] = {
            "format": FORMAT,
            "generated_at": now.isoformat(),
            "customer_id": customer_id,
            "profile": next(row(c) for c in customers if c.id == customer_id),
            "merged_profiles": [row(c) for c in customers if c.id != customer_id],
            "phones": [row(p) for p in phones],
            "identities": await _rows(s, ChannelIdentity, ids),
            "consents": {
                "current": {str(c.id): c.consent for c in customers},
                "log": await _rows(s, Consent, ids),
            },
            "bookings": await _bookings(s, ids),
            "orders": await _orders(s, ids, {p.phone for p in phones}),
            "transcript": await _transcript(s, ids),
        }
        doc["tickets"] = await _tickets(s, ids)
        doc["csat"] = [
            {"ticket_id": t["id"], "score": t["csat"], "at": t["csat_at"]}
            for t in doc["tickets"]
            if t["csat"] is not None
        ]
        doc["proactive"] = await _proactive(s, ids)
    return doc


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """Counts per kind of data and the channels, for the short answer in the chat."""
    return {
        "channels": sorted({i["channel"] for i in doc["identities"]}),
        "messages": len(doc["transcript"]),
        "bookings": len(doc["bookings"]),
        "orders": len(doc["orders"]),
        "tickets": len(doc["tickets"]),
        "phones": len(doc["phones"]),
        "consents": len(doc["consents"]["log"]),
        "proactive": len(doc["proactive"]),
    }


def _of(model: Any, ids: Sequence[int]) -> Any:
    return model.customer_id.in_(ids)


async def _rows(s: AsyncSession, model: Any, ids: Sequence[int]) -> list[dict[str, Any]]:
    found = await s.scalars(select(model).where(_of(model, ids)).order_by(model.id))
    return [row(r) for r in found]


async def _bookings(s: AsyncSession, ids: Sequence[int]) -> list[dict[str, Any]]:
    found = await s.execute(
        select(Booking, Service.code)
        .join(Service, Service.id == Booking.service_id)
        .where(_of(Booking, ids))
        .order_by(Booking.starts_at)
    )
    return [{**row(b), "service": code} for b, code in found.all()]


async def _orders(s: AsyncSession, ids: Sequence[int], phones: set[str]) -> list[dict[str, Any]]:
    """Orders of the customer, and those placed with one of their phones."""
    linked = _of(Order, ids)
    where = or_(linked, Order.phone.in_(phones)) if phones else linked
    found = await s.scalars(select(Order).where(where).order_by(Order.id))
    return [row(o) for o in found]


async def _transcript(s: AsyncSession, ids: Sequence[int]) -> list[dict[str, Any]]:
    found = await s.scalars(
        select(Message).where(_of(Message, ids)).order_by(Message.created_at, Message.id)
    )
    return [row(m, skip=("error", "platform_message_id", "in_reply_to_id")) for m in found]


async def _tickets(s: AsyncSession, ids: Sequence[int]) -> list[dict[str, Any]]:
    tickets = list(await s.scalars(select(Ticket).where(_of(Ticket, ids)).order_by(Ticket.id)))
    events = await s.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id.in_([t.id for t in tickets]))
        .order_by(TicketEvent.id)
    )
    by_ticket: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        by_ticket.setdefault(e.ticket_id, []).append(row(e))
    return [{**row(t), "events": by_ticket.get(t.id, [])} for t in tickets]


async def _proactive(s: AsyncSession, ids: Sequence[int]) -> list[dict[str, Any]]:
    jobs = list(
        await s.scalars(
            select(ProactiveJob).where(_of(ProactiveJob, ids)).order_by(ProactiveJob.id)
        )
    )
    decisions = await s.scalars(
        select(ProactiveDecision)
        .where(ProactiveDecision.job_id.in_([j.id for j in jobs]))
        .order_by(ProactiveDecision.id)
    )
    by_job: dict[int, list[dict[str, Any]]] = {}
    for d in decisions:
        by_job.setdefault(d.job_id, []).append(row(d))
    return [{**row(j), "decisions": by_job.get(j.id, [])} for j in jobs]
