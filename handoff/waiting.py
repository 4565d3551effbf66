"""How long until a person answers, read from the real queue and the agents' states.

`estimate` counts the tickets ahead in the ticket's queue, the agents online who serve that queue
(topic and language) and have shown life lately (`handoff.routing.present`) with their free
ticket slots, the queue's recent handling time (`HandoffConfig.avg_handle_minutes` before it has
closed tickets) and the business hours with their holidays (which say when somebody is back).
Nobody present who serves the queue means no estimate at all: a wait is never promised on a
default. `Wait.soon` decides whether the customer is told the wait or offered a call back or a
message instead (`handoff.callback`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from handoff.config import HandoffConfig
from handoff.hours import BusinessHours
from handoff.models import Agent, HandoffQueue, Ticket
from handoff.routing import present, serves
from storage.db import Database

__all__ = ["Wait", "estimate"]

RECENT_TICKETS = 20  # closed tickets of the queue whose handling time is averaged


@dataclass(frozen=True, slots=True)
class Wait:
    """What the customer's wait depends on, as read at one moment."""

    minutes: int | None  # None: nobody online serves the queue
    ahead: int  # tickets before this one in its queue
    online: int  # agents online who serve the queue
    free: int  # their ticket slots not taken
    open: bool  # within business hours (holidays closed)
    opens: dt.datetime | None  # when closed: the next shift's start (local time)

    def soon(self, bound_minutes: float) -> bool:
        """Somebody can answer within ``bound_minutes``: the wait may be promised. Agents
        online after hours do answer (their state wins over the hours)."""
        return self.minutes is not None and self.minutes <= bound_minutes


async def estimate(
    db: Database, config: HandoffConfig, hours: BusinessHours, ticket: Ticket, now: dt.datetime
) -> Wait:
    open_now = hours.is_open(now)
    opens = None if open_now else hours.next_open(now)
    if ticket.status in ("offered", "assigned"):
        return Wait(1, 0, 1, 0, open_now, opens)  # a person has it in hand already

    def read(s: Session) -> tuple[int, list[Any], list[Agent]]:
        queue = s.get(HandoffQueue, ticket.queue_id)
        assert queue is not None
        ahead = int(s.scalar(_ahead(ticket)) or 0)
        recent = list(s.execute(_recent(ticket.queue_id)).all())
        agents = s.scalars(select(Agent).where(present(config, now)))
        return ahead, recent, [a for a in agents if serves(a, queue)]

    # One state of the database: a ticket offered between the count of those ahead and the
    # read of the agents' loads would count twice (ahead, and a slot taken).
    ahead, recent, online = await db.run(read, write=False, snapshot=True)
    free = sum(max(0, a.max_tickets - a.load) for a in online)
    if not online:
        return Wait(None, ahead, 0, 0, open_now, opens)
    handle = config.avg_handle_minutes
    spans = [(end - start).total_seconds() / 60 for start, end in recent if start and end]
    if spans:
        handle = max(1.0, sum(spans) / len(spans))
    if ahead < free:
        minutes = 1  # a free slot is there for it: routing offers it on its next look
    else:
        slots = sum(a.max_tickets for a in online)
        minutes = max(1, math.ceil((ahead - free + 1) * handle / max(1, slots)))
    return Wait(minutes, ahead, len(online), free, open_now, opens)


def _ahead(ticket: Ticket) -> Any:
    """The queued tickets before ``ticket`` in its queue: higher priority, or as high and older."""
    return select(func.count(Ticket.id)).where(
        Ticket.queue_id == ticket.queue_id,
        Ticket.status == "queued",
        Ticket.id != ticket.id,
        or_(
            Ticket.priority > ticket.priority,
            and_(Ticket.priority == ticket.priority, Ticket.created_at <= ticket.created_at),
        ),
    )


def _recent(queue_id: int) -> Any:
    """Pick-up and resolution times of the queue's last closed tickets."""
    return (
        select(Ticket.assigned_at, Ticket.resolved_at)
        .where(
            Ticket.queue_id == queue_id,
            Ticket.status == "closed",
            Ticket.assigned_at.is_not(None),
        )
        .order_by(Ticket.resolved_at.desc())
        .limit(RECENT_TICKETS)
    )
