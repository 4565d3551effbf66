"""JSON shapes of the agent API: tickets, the customer profile, the cross-channel transcript."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.auth import Principal
from handoff.errors import HandoffError
from handoff.models import ANY_TOPIC, Agent, HandoffQueue, Ticket, TicketEvent
from handoff.routing import in_queue, visible_clause
from handoff.transcript_lines import Shown, shown_lines
from storage.db import Database
from storage.models import ChannelIdentity, Customer, Message
from storage.proactive_models import ProactiveDecision, ProactiveJob
from storage.repositories.messages import MessageRepository

__all__ = [
    "agent_json",
    "agent_name",
    "list_tickets",
    "proactive_timeline",
    "queues_summary",
    "ticket_detail",
    "ticket_json",
    "transfer_targets",
]

TRANSCRIPT_LIMIT = 1000
PROACTIVE_LIMIT = 200
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


async def agent_name(db: Database, agent_id: int | None) -> str | None:
    """The name of a ticket's agent (None: no agent)."""
    if agent_id is None:
        return None
    stmt = select(Agent.name).where(Agent.id == agent_id)
    return await db.run(lambda s: s.scalar(stmt), write=False)


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


def _name_of_customer() -> Any:
    """The customer's name: the profile's, else the first channel identity that has one."""
    identity_name = (
        select(ChannelIdentity.display_name)
        .where(
            ChannelIdentity.customer_id == Ticket.customer_id,
            ChannelIdentity.display_name.is_not(None),
        )
        .order_by(ChannelIdentity.id)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(Customer.display_name, identity_name)


def _last_channel(customer_id: Any) -> Any:
    """The channel of the customer's last message: where an agent's reply goes."""
    return (
        select(Message.channel)
        .where(Message.customer_id == customer_id, Message.direction == "in")
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )


async def list_tickets(
    db: Database, principal: Principal, status: str | None, limit: int = 200
) -> list[dict[str, Any]]:
    """Tickets the principal may see, each with the customer's name and last channel (so a
    queue view needs no request per ticket)."""
    stmt = (
        select(
            Ticket,
            HandoffQueue,
            Agent.name,
            _name_of_customer().label("customer_name"),
            _last_channel(Ticket.customer_id).scalar_subquery().label("last_channel"),
        )
        .join(HandoffQueue, HandoffQueue.id == Ticket.queue_id)
        .outerjoin(Agent, Agent.id == Ticket.agent_id)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
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
    return [
        {**ticket_json(t, q, name), "customer_name": customer, "last_channel": channel}
        for t, q, name, customer, channel in rows
    ]


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
        last_channel = await s.scalar(_last_channel(ticket.customer_id))
        proactive = await proactive_timeline(s, ticket.customer_id)
    doc = ticket_json(ticket, queue, agent.name if agent else None)
    doc["last_channel"] = last_channel
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
    lines = zip(messages, shown_lines(messages), strict=True)
    doc["transcript"] = [_line(m, shown) for m, shown in lines]
    doc["proactive"] = proactive
    doc["events"] = [
        {"kind": e.kind, "agent_id": e.agent_id, "data": e.data, "at": _iso(e.created_at)}
        for e in events
    ]
    return doc


def _line(m: Message, shown: Shown) -> dict[str, Any]:
    """One message of the timeline; one the bot sent first names its scenario (``proactive``).
    ``shown`` is what to show of it: a tapped button's title, "shared phone ..." (``kind``)."""
    out = m.direction == "out"
    return {
        "id": m.id,
        "at": _iso(m.created_at),
        "channel": m.channel,
        "from": m.sender_kind,
        "text": m.text,
        "shown": shown.text,
        "kind": shown.kind,
        "payload": m.payload,
        "status": m.status,
        "error": m.error if out else None,
        "proactive": (m.body or {}).get("proactive") if out else None,
    }


async def proactive_timeline(s: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
    """What was decided about the customer's proactive messages, oldest first: each decision
    (sent, deferred, capped, suppressed, unreachable, expired, cancelled) with its reason."""
    rows = await s.execute(
        select(ProactiveDecision, ProactiveJob.step)
        .join(ProactiveJob, ProactiveJob.id == ProactiveDecision.job_id)
        .where(ProactiveDecision.customer_id == customer_id)
        .order_by(ProactiveDecision.id.desc())
        .limit(PROACTIVE_LIMIT)
    )
    return [
        {
            "at": _iso(d.at),
            "job_id": d.job_id,
            "scenario": d.scenario,
            "step": step,
            "topic": d.topic,
            "decision": d.decision,
            "reason": d.reason,
            "channel": d.channel,
        }
        for d, step in reversed(rows.all())
    ]


async def queues_summary(db: Database, principal: Principal) -> list[dict[str, Any]]:
    """The queues the principal works in, with how many tickets wait in each."""
    return [
        q
        for q in await _queues(db)
        if principal.sees_all
        or in_queue(principal.skills, principal.languages, q["topic"], q["language"])
    ]


async def transfer_targets(
    db: Database, topics: Iterable[str], languages: Iterable[str]
) -> list[dict[str, Any]]:
    """Every queue a ticket may be transferred to, whoever asks: the queues that exist, every
    configured topic in every language, and what some agent serves. Queues not created yet
    have ``id`` null (a transfer creates them); ``online`` counts the online agents who serve
    each one, so an agent can see where nobody would pick the ticket up."""
    found = {(q["topic"], q["language"]): q for q in await _queues(db)}
    async with db.session() as s:
        agents = list(await s.scalars(select(Agent)))
    languages = set(languages)
    for agent in agents:
        languages.update(agent.languages or ())
    pairs = set(found) | {(t, lang) for t in set(topics) for lang in languages}
    for agent in agents:
        pairs.update(
            (skill, lang)
            for skill in agent.skills or ()
            if skill != ANY_TOPIC
            for lang in agent.languages or ()
        )
    result = []
    for topic, language in sorted(pairs):
        queue = found.get((topic, language)) or {
            "id": None,
            "topic": topic,
            "language": language,
            "waiting": 0,
        }
        serving = [
            a
            for a in agents
            if a.status == "online" and in_queue(a.skills or (), a.languages or (), topic, language)
        ]
        result.append({**queue, "online": len(serving)})
    return result


async def _queues(db: Database) -> list[dict[str, Any]]:
    stmt = (
        select(HandoffQueue, func.count(Ticket.id))
        .outerjoin(Ticket, (Ticket.queue_id == HandoffQueue.id) & (Ticket.status == "queued"))
        .group_by(HandoffQueue.id)
        .order_by(HandoffQueue.topic, HandoffQueue.language)
    )
    async with db.session() as s:
        rows = (await s.execute(stmt)).all()
    return [
        {"id": q.id, "topic": q.topic, "language": q.language, "waiting": int(n)} for q, n in rows
    ]
