"""The analytics events of a ticket's life (`storage.analytics.events`), built from the ticket
and written by the service and the router in the transaction of each step: created, claimed,
the agent's first reply, resolved (and the CSAT question), the CSAT answer.

Waits are measured from the ticket's creation, which is the handoff itself: the time the
customer spent with the bot before it is never part of them. Each is given in wall-clock seconds
and in business seconds (the team's hours, holidays left out).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff.hours import BusinessHours
from handoff.models import Ticket
from storage.analytics.events import Event, handoff_cause, record_async
from storage.analytics.tasks import taken_over
from storage.backends import Backends
from storage.db import Database
from storage.errors import StaleSession

__all__ = [
    "answered",
    "assigned",
    "claimed",
    "created",
    "end_task_on_take_over",
    "first_response",
    "handed_to",
    "record_async",
    "record_created",
    "resolved",
]

SESSION_RETRIES = 5


def _common(ticket: Ticket, topic: str) -> dict[str, Any]:
    return {
        "key": str(ticket.id),
        "customer_id": ticket.customer_id,
        "ticket_id": ticket.id,
        "channel": ticket.channel,
        "language": ticket.language,
        "intent": ticket.intent,
        "team": topic,
    }


def _since_created(ticket: Ticket, now: dt.datetime, hours: BusinessHours) -> dict[str, Any]:
    return {
        "value": max(0.0, (now - ticket.created_at).total_seconds()),
        "value_bh": hours.seconds_between(ticket.created_at, now),
    }


def created(ticket: Ticket, topic: str, agent_id: int | None = None) -> Event:
    """``ticket.created``: a handoff, with its cause (a take-over names its agent)."""
    return Event(
        kind="ticket.created",
        at=ticket.created_at,
        agent_id=agent_id,
        reason=handoff_cause(ticket.reason),
        data={"reason": ticket.reason},
        **_common(ticket, topic),
    )


def claimed(
    ticket: Ticket, topic: str, agent_id: int, now: dt.datetime, hours: BusinessHours
) -> Event:
    """``ticket.claimed`` (the first assignment only: the key is the ticket): the wait for a
    person to take it."""
    return Event(
        kind="ticket.claimed",
        at=now,
        agent_id=agent_id,
        **_since_created(ticket, now, hours),
        **_common(ticket, topic),
    )


def assigned(ticket: Ticket, topic: str, agent_id: int | None, now: dt.datetime) -> Event:
    """``ticket.assigned``: the ticket has a new holder (a claim, a take-over, a transfer;
    ``agent_id`` None: transferred to a queue). The CSV's agent of an open ticket is its latest
    holder; the key is the ticket and the instant, so a retried step adds nothing."""
    return Event(
        kind="ticket.assigned",
        at=now,
        agent_id=agent_id,
        **{**_common(ticket, topic), "key": f"{ticket.id}:{now.isoformat()}"},
    )


def handed_to(
    ticket: Ticket, topic: str, agent_id: int, now: dt.datetime, hours: BusinessHours
) -> list[Event]:
    """An agent takes the ticket (a claim, a direct transfer to them): ``ticket.claimed`` (kept
    only when it is the first time) and ``ticket.assigned``."""
    return [claimed(ticket, topic, agent_id, now, hours), assigned(ticket, topic, agent_id, now)]


def first_response(
    ticket: Ticket, topic: str, agent_id: int | None, now: dt.datetime, hours: BusinessHours
) -> Event:
    """``agent.first_response``: from the handoff to the first message of a person."""
    return Event(
        kind="agent.first_response",
        at=now,
        agent_id=agent_id,
        **_since_created(ticket, now, hours),
        **_common(ticket, topic),
    )


def resolved(
    ticket: Ticket, topic: str, now: dt.datetime, hours: BusinessHours, *, csat_asked: bool
) -> list[Event]:
    """``ticket.resolved`` (from the handoff to the close) and ``csat.asked`` when the
    customer is asked to rate it; both name the ticket's agent."""
    agent_id = ticket.agent_id
    events = [
        Event(
            kind="ticket.resolved",
            at=now,
            agent_id=agent_id,
            reason=handoff_cause(ticket.reason),
            **_since_created(ticket, now, hours),
            **_common(ticket, topic),
        )
    ]
    if csat_asked:
        events.append(Event(kind="csat.asked", at=now, agent_id=agent_id, **_common(ticket, topic)))
    return events


def answered(ticket: Ticket, topic: str, score: int, now: dt.datetime) -> Event:
    """``csat.answered``: counted at the time it was asked (the close), so that for any range
    the answers never outnumber the questions."""
    return Event(
        kind="csat.answered",
        at=ticket.resolved_at or now,
        agent_id=ticket.agent_id,
        value=float(score),
        data={"answered_at": now.isoformat()},
        **_common(ticket, topic),
    )


async def record_created(
    s: AsyncSession, ticket: Ticket, topic: str, agent_id: int | None = None
) -> None:
    """In the ticket's own transaction: ``ticket.created`` (and ``ticket.claimed`` for one
    opened already assigned). The ticket is a contact on its topic: the rollup round writes
    the ``fcr.came_back`` of the customer's earlier tickets on it (`storage.analytics.fcr`)."""
    await s.flush()  # the ticket's id
    events = [created(ticket, topic, agent_id)]
    if agent_id is not None:
        hours = BusinessHours("")
        events += handed_to(ticket, topic, agent_id, ticket.created_at, hours)
    await record_async(s, events)


async def end_task_on_take_over(
    db: Database, backends: Backends, ticket: Ticket, topic: str, lock_timeout: float
) -> None:
    """After a take-over: the customer's open task ends now as handed over
    (`storage.analytics.tasks.taken_over`), not on their next message, which may never come.
    Under the customer's lock the events are written first, then the session that no longer
    holds the task (a crash between the two leaves the keys for the tracker to repeat)."""
    sessions, now = backends.sessions, ticket.assigned_at or ticket.created_at
    async with backends.locks.hold(ticket.customer_id, lock_timeout):
        for _ in range(SESSION_RETRIES):
            session = await sessions.get(ticket.customer_id)
            facts = taken_over(
                session.data,
                ticket_id=ticket.id,
                reason=ticket.reason,
                customer_id=ticket.customer_id,
                channel=ticket.channel,
                language=session.language or ticket.language,
                topic=topic,
                now=now,
            )
            if not facts:
                return
            async with db.transaction() as s:
                await record_async(s, facts)
            try:
                await sessions.save(session)
                return
            except StaleSession:
                continue
