"""An event of the business's systems becomes proactive messages: the customer it names is
found, the scenarios it starts are scheduled and the ones it ends are cancelled, in one
transaction, once per event id (`accept_event`).

The customer is found by omnirelay's id, a channel identity, a *verified* phone (a phone
somebody only typed could be anybody's: no message goes to it) or an e-mail address. An unknown
customer is `UnknownCustomer` and nothing is stored; a repeated event id is answered from the
first acceptance; the same id used for another event is `EventClash`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bots.proactive.event_input import BusinessEvent, CustomerRef
from bots.proactive.scenarios import Scenarios
from bots.proactive.triggers import cancel, trigger
from storage.db import Database
from storage.models import Customer
from storage.proactive_models import ProactiveEvent
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import IdentityRepository
from storage.repositories.proactive import ProactiveRepository

__all__ = ["Accepted", "EventClash", "UnknownCustomer", "UnknownEventType", "accept_event"]

MERGE_HOPS = 5  # a merged-away profile points to its survivor; chains are short


class UnknownCustomer(LookupError):
    """Nobody matches the event's customer reference."""


class UnknownEventType(LookupError):
    """The scenarios file neither starts nor cancels anything on this event type."""


class EventClash(ValueError):
    """The event id was accepted before for another event (type or customer)."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """What an event did: the answer to its post and to every repeat of it."""

    result: dict[str, Any]
    duplicate: bool

    def as_dict(self) -> dict[str, Any]:
        return {**self.result, "duplicate": self.duplicate}


async def accept_event(
    db: Database, scenarios: Scenarios, event: BusinessEvent, now: dt.datetime
) -> Accepted:
    """Schedule and cancel what ``event`` asks, once per event id (see the module)."""
    known = scenarios.known_events()
    if event.type not in known:
        raise UnknownEventType(
            f"no scenario starts or cancels on {event.type!r}; "
            f"the scenarios file ({scenarios.source}) knows {sorted(known)}"
        )
    fingerprint = _fingerprint(event)
    try:
        async with db.transaction() as s:
            customer_id = await find_customer(s, event.customer)
            if customer_id is None:
                raise UnknownCustomer(f"no customer with {event.customer.describe()}")
            earlier = await _earlier(s, event.id, fingerprint)
            if earlier is not None:
                return earlier
            row = ProactiveEvent(
                event_id=event.id,
                type=event.type,
                customer_id=customer_id,
                fingerprint=fingerprint,
                at=event.at or now,
                received_at=now,
            )
            s.add(row)
            await s.flush()  # a concurrent post of the same id fails here, before any job
            row.result = await _apply(s, scenarios, event, customer_id, event.at or now, now)
            return Accepted(row.result, duplicate=False)
    except IntegrityError:
        async with db.session() as s:  # the same event, accepted by a concurrent post
            earlier = await _earlier(s, event.id, fingerprint)
        if earlier is None:
            raise
        return earlier


async def _apply(
    s: AsyncSession,
    scenarios: Scenarios,
    event: BusinessEvent,
    customer_id: int,
    anchor: dt.datetime,
    now: dt.datetime,
) -> dict[str, Any]:
    """Cancel, then schedule (an event may end an earlier sequence and start a new one)."""
    reason = f"event {event.type} ({event.id})"
    cancelled = 0
    for name in scenarios.cancelled_by(event.type):
        cancelled += await cancel(s, customer_id=customer_id, scenario=name, reason=reason, now=now)
    occurrence = f"event:{event.id}"
    repo = ProactiveRepository(s)
    jobs: list[dict[str, Any]] = []
    for scenario in scenarios.for_event(event.type):
        await trigger(
            s,
            scenarios,
            scenario.name,
            customer_id=customer_id,
            occurrence=occurrence,
            anchor=anchor,
            variables=dict(event.variables),
            now=now,
        )
        jobs += [
            {
                "id": job.id,
                "scenario": job.scenario,
                "step": job.step,
                "topic": job.topic,
                "due_at": job.due_at.isoformat(),
                "expires_at": job.expires_at.isoformat() if job.expires_at else None,
            }
            for job in await repo.pending(customer_id, scenario.name, occurrence)
        ]
    return {
        "event": event.id,
        "type": event.type,
        "customer_id": customer_id,
        "jobs": jobs,
        "cancelled": cancelled,
    }


async def _earlier(s: AsyncSession, event_id: str, fingerprint: str) -> Accepted | None:
    row = await s.scalar(select(ProactiveEvent).where(ProactiveEvent.event_id == event_id))
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise EventClash(
            f"event id {event_id!r} was accepted before for another event ({row.fingerprint}); "
            "give every event an id of its own"
        )
    return Accepted(dict(row.result or {}), duplicate=True)


def _fingerprint(event: BusinessEvent) -> str:
    return f"{event.type} for {event.customer.describe()}"[:400]


async def find_customer(s: AsyncSession, ref: CustomerRef) -> int | None:
    """The active customer the reference names (a merged-away profile: its survivor)."""
    found: Customer | None = None
    if ref.customer_id is not None:
        found = await s.get(Customer, ref.customer_id)
    if found is None and ref.channel and ref.user_id:
        found = await CustomerRepository(s).find_by_identity(ref.channel, ref.user_id)
    if found is None and ref.phone:
        found = await IdentityRepository(s).verified_owner(ref.phone)
    if found is None and ref.email:
        found = await s.scalar(
            select(Customer)
            .where(func.lower(Customer.email) == ref.email, Customer.merged_into_id.is_(None))
            .order_by(Customer.last_seen_at.desc(), Customer.id.desc())
            .limit(1)
        )
    for _ in range(MERGE_HOPS):
        if found is None or found.merged_into_id is None:
            break
        found = await s.get(Customer, found.merged_into_id)
    if found is None or found.merged_into_id is not None:
        return None
    return found.id
