"""JSON shapes of the agent API: tickets, the customer profile, the cross-channel transcript."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from handoff.auth import Principal
from handoff.errors import HandoffError
from handoff.models import Agent, HandoffQueue, Ticket, TicketEvent
from handoff.routing import visible_clause
from storage.db import Database
from storage.models import ChannelIdentity, Customer
from storage.repositories.messages import MessageRepository

__all__ = ["agent_json", "list_tickets", "queues_summary", "ticket_detail", "ticket_json"]

TRANSCRIPT_LIMIT = 1000
STATUSES = ("queued", "offered", "assigned", "closed")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def agent_json(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "role": agent.role,
        "skills": list(agent.skills or []),
        "languages": list(agent.languages or []),
        "max_tickets": agent.max_tickets,
        "open_tickets": agent.load,
        "status": agent.status,
    }


def ticket_json(
    ticket: Ticket, queue: HandoffQueue, agent_name: str | None = None
) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "status": ticket.status,
        "customer_id": ticket.customer_id,
        "queue": {"id": queue.id, "topic": queue.topic, "language": queue.language},
        "agent_id": ticket.agent_id,
        "agent": agent_name,
        "reason": ticket.reason,
        "intent": ticket.intent,
        "slots": ticket.slots or {},
        "task": ticket.task,
        "language": ticket.language,
        "channel": ticket.channel,
        "priority": ticket.priority,
        "escalated": ticket.escalated,
        "offer_count": ticket.offer_count,
        "created_at": _iso(ticket.created_at),
        "offered_at": _iso(ticket.offered_at),
        "assigned_at": _iso(ticket.assigned_at),
        "first_response_at": _iso(ticket.first_response_at),
        "resolved_at": _iso(ticket.resolved_at),
        "resolution": ticket.resolution,
        "csat": ticket.csat,
    }


async def list_tickets(
    db: Database, principal: Principal, status: str | None, limit: int = 200
) -> list[dict[str, Any]]:
    stmt = (
        select(Ticket, HandoffQueue, Agent.name)
        .join(HandoffQueue, HandoffQueue.id == Ticket.queue_id)
        .outerjoin(Agent, Agent.id == Ticket.agent_id)
        .where(visible_clause(principal))
    )
    if status:
        wanted = [s for s in status.split(",") if s]
        if not set(wanted) <= set(STATUSES):
            raise HandoffError(f"status is one of {', '.join(STATUSES)}")
        stmt = stmt.where(Ticket.status.in_(wanted))
    stmt = stmt.order_by(Ticket.priority.desc(), Ticket.created_at, Ticket.id).limit(limit)
    async with db.session() as s:
        rows = (await s.execute(stmt)).all()
    return [ticket_json(t, q, name) for t, q, name in rows]


async def ticket_detail(db: Database, ticket: Ticket, queue: HandoffQueue) -> dict[str, Any]:
    """The ticket with the customer's profile, every channel identity, the whole
    cross-channel transcript and the ticket's own events."""
    async with db.session() as s:
        customer = await s.get(Customer, ticket.customer_id)
        identities = list(
            await s.scalars(
                select(ChannelIdentity)
                .where(ChannelIdentity.customer_id == ticket.customer_id)
                .order_by(ChannelIdentity.id)
            )
        )
        messages = await MessageRepository(s).transcript(ticket.customer_id, TRANSCRIPT_LIMIT)
        events = list(
            await s.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.id)
            )
        )
        agent = await s.get(Agent, ticket.agent_id) if ticket.agent_id else None
    doc = ticket_json(ticket, queue, agent.name if agent else None)
    doc["customer"] = {
        "id": ticket.customer_id,
        "name": customer.display_name if customer else None,
        "phone": customer.phone if customer else None,
        "email": customer.email if customer else None,
        "language": customer.language if customer else None,
        "last_channel": customer.last_channel if customer else None,
        "identities": [
            {
                "channel": i.channel,
                "external_id": i.external_id,
                "name": i.display_name,
                "reachable": i.reachable,
                "last_inbound_at": _iso(i.last_inbound_at),
            }
            for i in identities
        ],
    }
    doc["transcript"] = [
        {
            "id": m.id,
            "at": _iso(m.created_at),
            "channel": m.channel,
            "from": m.sender_kind,
            "text": m.text,
            "payload": m.payload,
            "status": m.status,
        }
        for m in messages
    ]
    doc["events"] = [
        {"kind": e.kind, "agent_id": e.agent_id, "data": e.data, "at": _iso(e.created_at)}
        for e in events
    ]
    return doc


async def queues_summary(db: Database, principal: Principal) -> list[dict[str, Any]]:
    stmt = (
        select(HandoffQueue, func.count(Ticket.id))
        .outerjoin(Ticket, (Ticket.queue_id == HandoffQueue.id) & (Ticket.status == "queued"))
        .group_by(HandoffQueue.id)
        .order_by(HandoffQueue.topic, HandoffQueue.language)
    )
    async with db.session() as s:
        rows = (await s.execute(stmt)).all()
    return [
        {"id": q.id, "topic": q.topic, "language": q.language, "waiting": int(n)}
        for q, n in rows
        if principal.sees_all or (q.topic in principal.skills and q.language in principal.languages)
    ]
