"""The customer's 1-5 rating of a closed ticket (`HandoffService.record_csat`): stored once,
on the ticket's timeline and as the ``csat.answered`` analytics event in the same transaction,
then published to the consoles.

One question at a time: the close asks for the rating alone, and the task the ticket
interrupted is offered again once the rating is given (`resume_offer`). Both questions used to
arrive together; the customer took up the task, and the "5" typed after it was no rating any
more (trial 3, T14). The rating stays asked (`PENDING`) until it is given, another ticket opens,
or the customer moves on in a task (`moved_on`: a "5" typed at the time question is a time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import update

from handoff import analytics
from handoff.contracts import Notice, Texts
from handoff.errors import NotFound
from handoff.models import Ticket, TicketEvent
from handoff.routing import Router
from storage.db import Database
from storage.sessions import Session

__all__ = [
    "PENDING",
    "CsatDesk",
    "moved_on",
    "pending",
    "record",
    "resume_offer",
]

PENDING = "csat"  # session.data: the rating asked after a close (`pending`)


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


def pending(ticket: Ticket, session: Session) -> dict[str, Any]:
    """What ``session`` keeps while the rating of ``ticket`` is asked: the ticket, the task it
    interrupted (offered again once the rating is given) and where the dialogue stood."""
    task = ticket.task or {}
    return {
        "ticket_id": ticket.id,
        "flow": task.get("flow"),
        "resume": task.get("resume"),
        "at": [session.flow, session.step],
    }


def moved_on(asked: dict[str, Any], session: Session) -> bool:
    """Whether the dialogue has moved on since the rating was asked (another flow or step):
    what the customer types next answers the task's question, not the rating."""
    return list(asked.get("at") or [None, None]) != [session.flow, session.step]


def resume_offer(texts: Texts, asked: dict[str, Any], language: str) -> Notice | None:
    """ "Shall we continue your booking?" with its button, for the task ``asked`` (`pending`)
    names; None when the ticket interrupted none."""
    resume = asked.get("resume")
    if not resume:
        return None
    tasks = texts.raw("handoff_tasks", language)
    name = tasks.get(asked.get("flow"), tasks.get("other"))
    button = (texts("handoff_resume_button", language), f"/{resume}")
    return Notice(texts("handoff_resume", language, task=name), (button,))
