"""Customer conversations that an agent or supervisor may pick up on their own
(`GET /api/conversations`), the bot context such a take-over starts from, and the take-over
itself (`POST /api/tickets`, through `HandoffService.take_over`).

Who sees which conversation is the take-over rule itself, so the list never offers what
`POST /api/tickets` would refuse: supervisors and admins see every customer; an agent sees a
customer whose open ticket they may see (`can_see`: their queues or their own), or, with no
ticket open, whose take-over would land in one of their queues: the topic of the customer's
current flow (``general`` outside flows) in the conversation's language.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from handoff.auth import Principal
from handoff.config import HandoffConfig
from handoff.contracts import Escalation, mark, new_ticket
from handoff.errors import Conflict, Forbidden, HandoffError, NotFound
from handoff.models import OPEN_STATUSES, Agent, HandoffQueue, Ticket
from handoff.routing import Router, can_see, in_queue
from handoff.transcript_lines import shown_inbound
from storage.backends import Backends
from storage.db import Database
from storage.models import ChannelIdentity, Customer, CustomerPhone, Message
from storage.sessions import Session, SessionStore

__all__ = [
    "TakeOverContext",
    "TakeOverDesk",
    "last_inbound",
    "list_conversations",
    "take_over",
    "takeover_context",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: An agent's list is filtered after the query; it reads at most this many rows to fill a page.
MAX_SCAN = 1000
QUERY_LIMIT = 100
_PHONE_LIKE = re.compile(r"^[\d\s()+\-.]+$")
_BIGINT = 2**63 - 1


class TakeOverDesk(Protocol):
    """What a take-over needs of the handoff service (`handoff.service.HandoffService`); a
    protocol, so this module does not import the service that calls it."""

    db: Database
    backends: Backends
    config: HandoffConfig
    router: Router
    clock: Callable[[], dt.datetime]

    async def open_ticket_of(self, customer_id: int) -> Ticket | None: ...

    async def set_session(self, customer_id: int, change: Callable[[Session], None]) -> Session: ...

    async def emit(
        self, kind: str, ticket: Ticket, agent_id: int | None, data: dict[str, Any] | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class TakeOverContext:
    """Where the bot stood with the customer: what a taken-over ticket records and routes by."""

    flow: str | None
    slots: dict[str, Any]
    language: str


def takeover_context(
    session: Session, last_inbound: Message | None, customer_language: str | None, default: str
) -> TakeOverContext:
    """The live session; when it was never saved (expired, or lost with an embedded process's
    memory) the session stored with the customer's last message, as the worker's repair does."""
    if session.version == 0 and last_inbound is not None and last_inbound.session_snapshot:
        snap = last_inbound.session_snapshot
        return TakeOverContext(
            flow=snap.get("flow"),
            slots=dict(snap.get("slots") or {}),
            language=snap.get("language") or customer_language or default,
        )
    return TakeOverContext(
        flow=session.flow,
        slots=dict(session.slots),
        language=session.language or customer_language or default,
    )


async def take_over(service: TakeOverDesk, customer_id: int, principal: Principal) -> Ticket:
    """An agent or supervisor picks a conversation up on their own: a new ticket opened
    already assigned to them (never queued or offered to anybody else), or the customer's
    open ticket, claimed. Refused (403, 409) without side effects."""
    if principal.agent_id is None:
        raise Forbidden("the admin token is not an agent: log in as an agent to take over")
    now = service.clock()
    ticket = await service.open_ticket_of(customer_id)
    if ticket is None:
        ticket = await _open_taken(service, customer_id, principal, now)
    if ticket is None:  # somebody opened one meanwhile: claim it, with its guards
        ticket = await service.open_ticket_of(customer_id)
    if ticket is None:
        raise Conflict(f"the tickets of customer {customer_id} keep changing; try again")
    if ticket.status != "assigned" or ticket.agent_id != principal.agent_id:
        ticket = await service.router.claim(ticket.id, principal, now)
    await service.set_session(customer_id, mark(ticket.id, "agent"))
    return ticket


async def _open_taken(
    service: TakeOverDesk, customer_id: int, principal: Principal, now: dt.datetime
) -> Ticket | None:
    """The new ticket of a take-over; None when the customer has an open one after all."""
    session = await service.backends.sessions.get(customer_id)
    async with service.db.session() as s:
        last = await last_inbound(s, customer_id)
        customer = await s.get(Customer, customer_id)
    if last is None or customer is None:
        raise NotFound(f"customer {customer_id} has never written to us")
    context = takeover_context(session, last, customer.language, service.config.default_language)
    topic = service.config.topic_for(context.flow, None)
    if not principal.sees_all and not in_queue(
        principal.skills, principal.languages, topic, context.language
    ):
        raise Forbidden(
            f"a ticket of this customer goes to {topic}/{context.language}, not your queues"
        )
    esc = Escalation(
        reason="agent_initiated",
        flow=context.flow,
        slots=context.slots,
        language=context.language,
        channel=last.channel,
    )
    queue = await service.router.queue_for(topic, context.language)
    ticket = new_ticket(customer_id, esc, queue.id, now)
    ticket.assigned_at = now
    if not await service.router.open_assigned(ticket, principal, topic):
        return None
    await service.emit("ticket.created", ticket, None, {"reason": esc.reason, "topic": topic})
    await service.emit("ticket.assigned", ticket, principal.agent_id, {"agent": principal.name})
    return (await service.router.load(ticket.id))[0]


async def last_inbound(s: AsyncSession, customer_id: int) -> Message | None:
    """The customer's latest inbound message: where replies go and what a take-over starts from."""
    return await s.scalar(
        select(Message)
        .where(Message.customer_id == customer_id, Message.direction == "in")
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )


def _search(q: str) -> ColumnElement[bool]:
    """A name (any case of the first letter or all letters: SQLite folds only ASCII), a phone
    number or part of one (3+ digits), a platform user id, or the customer id."""
    variants = {q, q.lower(), q.upper(), q.capitalize(), q.title()}
    conditions: list[ColumnElement[bool]] = [
        or_(*(Customer.display_name.icontains(v, autoescape=True) for v in variants)),
        exists().where(
            ChannelIdentity.customer_id == Customer.id,
            or_(
                ChannelIdentity.external_id == q,
                *(ChannelIdentity.display_name.icontains(v, autoescape=True) for v in variants),
            ),
        ),
    ]
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3 and _PHONE_LIKE.match(q):
        conditions.append(Customer.phone.contains(digits, autoescape=True))
        conditions.append(
            exists().where(
                CustomerPhone.customer_id == Customer.id,
                CustomerPhone.phone.contains(digits, autoescape=True),
            )
        )
    if q.isdigit() and int(q) <= _BIGINT:
        conditions.append(Customer.id == int(q))
    return or_(*conditions)


async def list_conversations(
    db: Database,
    sessions: SessionStore,
    config: HandoffConfig,
    principal: Principal,
    q: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[dict[str, Any]]:
    """Customers by their latest message, newest first, that the principal may take over:
    name, phone, language, last message, last channel, the open ticket if any, and the queue
    a take-over would land in."""
    if not 1 <= limit <= MAX_LIMIT:
        raise HandoffError(f"limit is between 1 and {MAX_LIMIT}")
    q = (q or "").strip()
    if len(q) > QUERY_LIMIT:
        raise HandoffError(f"q is longer than {QUERY_LIMIT} characters")
    latest = (
        select(Message.customer_id, func.max(Message.id).label("last_id"))
        .group_by(Message.customer_id)
        .subquery()
    )
    stmt = (
        select(Customer, Message)
        .join(latest, latest.c.customer_id == Customer.id)
        .join(Message, Message.id == latest.c.last_id)
        .where(Customer.merged_into_id.is_(None))
        .order_by(latest.c.last_id.desc())
    )
    if q:
        stmt = stmt.where(_search(q))
    found: list[dict[str, Any]] = []
    batch = limit if principal.sees_all else min(MAX_LIMIT, limit * 2)
    for offset in range(0, MAX_SCAN, batch):
        async with db.session() as s:
            rows = [(c, m) for c, m in await s.execute(stmt.offset(offset).limit(batch))]
        for doc, visible in await _describe(db, sessions, config, principal, rows):
            if visible and len(found) < limit:
                found.append(doc)
        if len(rows) < batch or len(found) >= limit or principal.sees_all:
            break
    return found


async def _describe(
    db: Database,
    sessions: SessionStore,
    config: HandoffConfig,
    principal: Principal,
    rows: Sequence[tuple[Customer, Message]],
) -> list[tuple[dict[str, Any], bool]]:
    ids = [customer.id for customer, _ in rows]
    if not ids:
        return []
    inbound, identities, tickets = await _facts(db, ids)
    live = await asyncio.gather(*(sessions.get(i) for i in ids))
    result = []
    for (customer, last), session in zip(rows, live, strict=True):
        last_in = inbound.get(customer.id)
        context = takeover_context(session, last_in, customer.language, config.default_language)
        topic = config.topic_for(context.flow, None)
        open_ticket = tickets.get(customer.id)
        visible = _visible(principal, last_in, open_ticket, topic, context.language)
        own = identities.get(customer.id, [])
        named = next((i.display_name for i in own if i.display_name), None)
        doc = {
            "customer_id": customer.id,
            "name": customer.display_name or named,
            "phone": customer.phone,
            "language": context.language,
            "flow": context.flow,
            "channels": sorted({i.channel for i in own}),
            "last_channel": last_in.channel if last_in is not None else None,
            "last_message": {
                "at": _iso(last.created_at),
                "channel": last.channel,
                "from": last.sender_kind,
                "text": last.text,
                "shown": _shown(last),
            },
            "queue": {"topic": topic, "language": context.language},
            "open_ticket": _ticket(open_ticket),
        }
        result.append((doc, visible))
    return result


def _shown(m: Message) -> str | None:
    """The last message as the timeline shows it (a button's title, "shared phone ...")."""
    if m.direction == "out":
        return m.text
    return shown_inbound(m.text, m.payload, m.body).text


_OpenTicket = tuple[Ticket, HandoffQueue, str | None]


async def _facts(
    db: Database, ids: list[int]
) -> tuple[dict[int, Message], dict[int, list[ChannelIdentity]], dict[int, _OpenTicket]]:
    """Per customer: the last inbound message, the channel identities, the open ticket."""
    async with db.session() as s:
        inbound_ids = (
            select(func.max(Message.id))
            .where(Message.customer_id.in_(ids), Message.direction == "in")
            .group_by(Message.customer_id)
        )
        inbound = {
            m.customer_id: m
            for m in await s.scalars(select(Message).where(Message.id.in_(inbound_ids)))
        }
        identities: dict[int, list[ChannelIdentity]] = {}
        for identity in await s.scalars(
            select(ChannelIdentity)
            .where(ChannelIdentity.customer_id.in_(ids))
            .order_by(ChannelIdentity.id)
        ):
            identities.setdefault(identity.customer_id, []).append(identity)
        tickets: dict[int, _OpenTicket] = {
            t.customer_id: (t, q, name)
            for t, q, name in (
                await s.execute(
                    select(Ticket, HandoffQueue, Agent.name)
                    .join(HandoffQueue, HandoffQueue.id == Ticket.queue_id)
                    .outerjoin(Agent, Agent.id == Ticket.agent_id)
                    .where(Ticket.customer_id.in_(ids), Ticket.status.in_(OPEN_STATUSES))
                )
            )
        }
    return inbound, identities, tickets


def _visible(
    principal: Principal,
    last_in: Message | None,
    open_ticket: _OpenTicket | None,
    topic: str,
    language: str,
) -> bool:
    """Whether the principal may take the customer over (the take-over rule itself)."""
    if last_in is None:
        return False  # nothing to take over: the customer never wrote
    if principal.sees_all:
        return True
    if open_ticket is not None:
        return can_see(principal, open_ticket[0], open_ticket[1])
    return in_queue(principal.skills, principal.languages, topic, language)


def _ticket(found: tuple[Ticket, HandoffQueue, str | None] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    ticket, queue, agent = found
    return {
        "id": ticket.id,
        "status": ticket.status,
        "agent_id": ticket.agent_id,
        "agent": agent,
        "reason": ticket.reason,
        "queue": {"id": queue.id, "topic": queue.topic, "language": queue.language},
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
