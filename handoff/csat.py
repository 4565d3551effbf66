"""The customer's 1-5 rating of a closed ticket (`HandoffService.record_csat`): stored once,
on the ticket's timeline and as the ``csat.answered`` analytics event in the same transaction,
then published to the consoles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import update

from handoff import analytics
from handoff.errors import NotFound
from handoff.models import Ticket, TicketEvent
from handoff.routing import Router
from storage.db import Database

__all__ = ["CsatDesk", "record"]


class CsatDesk(Protocol):
    """What recording a rating needs of the handoff service."""

    db: Database
    router: Router
    clock: Callable[[], dt.datetime]

    async def emit(
        self, kind: str, ticket: Ticket, agent_id: int | None, data: dict[str, Any] | None = None
    ) -> None: ...


async def record(desk: CsatDesk, ticket_id: int, score: int) -> bool:
    """Store ``score`` for a closed ticket not rated yet; False when it is not stored (out of
    range, no such ticket, not closed, rated before)."""
    if not 1 <= score <= 5:
        return False
    try:
        ticket, queue = await desk.router.load(ticket_id)
    except NotFound:
        return False
    now = desk.clock()
    async with desk.db.transaction() as s:
        result = await s.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.status == "closed", Ticket.csat.is_(None))
            .values(csat=score, csat_at=now)
        )
        stored = bool(getattr(result, "rowcount", 0))
        if stored:
            s.add(TicketEvent(ticket_id=ticket_id, kind="csat", data={"score": score}))
            await analytics.record_async(s, [analytics.answered(ticket, queue.topic, score, now)])
    if stored:
        await desk.emit("ticket.csat", ticket, ticket.agent_id, {"score": score})
    return stored
