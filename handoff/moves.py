"""The guarded row moves routing is made of (see `handoff.routing`): an agent's load taken and
given back, a ticket moved only if it is still as it was read (else `Lost`), and an offer given
back by an agent at their limit who claims another ticket.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Agent, Ticket, TicketEvent

__all__ = ["Lost", "give_back", "move", "offer_back", "release_an_offer", "take_capacity"]


class Lost(Exception):
    """The ticket moved under us: roll the transaction back."""


async def take_capacity(s: AsyncSession, agent_id: int, *, online: bool) -> bool:
    """One more open ticket for the agent, only while under their limit."""
    stmt = update(Agent).where(Agent.id == agent_id, Agent.load < Agent.max_tickets)
    if online:
        stmt = stmt.where(Agent.status == "online")
    result = await s.execute(stmt.values(load=Agent.load + 1))
    return bool(getattr(result, "rowcount", 0))


async def give_back(s: AsyncSession, agent_id: int | None) -> None:
    if agent_id is not None:
        await s.execute(
            update(Agent).where(Agent.id == agent_id, Agent.load > 0).values(load=Agent.load - 1)
        )


async def move(
    s: AsyncSession, ticket: Ticket, values: dict[str, Any], *, statuses: Iterable[str]
) -> None:
    """UPDATE the ticket if it is still as we read it (status and agent); else `Lost`."""
    agent_match = (
        Ticket.agent_id.is_(None) if ticket.agent_id is None else Ticket.agent_id == ticket.agent_id
    )
    result = await s.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status.in_(list(statuses)), agent_match)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise Lost


async def release_an_offer(s: AsyncSession, me: int, keep: int) -> int | None:
    """An agent at their limit who claims a ticket gives back the oldest one offered to them
    (to the queue, then to another agent): what they chose is what they work on. Three offers
    filled an agent's limit of three, and every claim of another said "at your limit" while
    her own tickets showed none (trial 4, G7). The released ticket's id, or None."""
    other = await s.scalar(
        select(Ticket)
        .where(Ticket.status == "offered", Ticket.agent_id == me, Ticket.id != keep)
        .order_by(Ticket.offered_at, Ticket.id)
        .limit(1)
    )
    if other is None:
        return None
    back = {"status": "queued", "agent_id": None, "offered_at": None}
    await offer_back(s, other, back, kind="offer_expired", data={"given_back": True})
    return other.id


async def offer_back(
    s: AsyncSession,
    ticket: Ticket,
    values: dict[str, Any],
    *,
    kind: str,
    data: dict[str, Any] | None = None,
) -> None:
    """An offered ticket back from its agent (their load given back, ``values`` set, the
    ``kind`` event on its timeline); `Lost` if it is no longer offered to them."""
    previous = ticket.agent_id
    await give_back(s, previous)
    await move(s, ticket, values, statuses=("offered",))
    s.add(TicketEvent(ticket_id=ticket.id, kind=kind, agent_id=previous, data=data or {}))
