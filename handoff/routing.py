"""Routing: which queue a ticket waits in, which agent it is offered to, and the guarded moves
of a ticket between agents.

Every move runs in one transaction made of conditional UPDATEs, agents first, then the ticket:

- ``agents.load`` grows only ``WHERE load < max_tickets`` (nobody exceeds their limit);
- a ticket moves only ``WHERE id = :id AND status = :expected [AND agent_id = :expected]``.

If the ticket UPDATE matches no row somebody else moved the ticket first, and the whole
transaction (with the agent's load) is rolled back. On PostgreSQL a concurrent UPDATE of the
same row waits for the first one to commit and then re-checks its WHERE clause; on SQLite the
writer is serialised. So this holds with any number of processes on one database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import and_, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from handoff import analytics
from handoff.auth import Principal
from handoff.config import DEFAULT_TOPIC, HandoffConfig
from handoff.errors import Conflict, Forbidden, NotFound
from handoff.hours import BusinessHours
from handoff.models import ANY_TOPIC, Agent, HandoffQueue, Ticket, TicketEvent
from handoff.moves import Lost, give_back, move, offer_back, release_an_offer, take_capacity
from storage.analytics.events import Event
from storage.db import Database

__all__ = [
    "ANY_TOPIC",
    "Emit",
    "Lapsed",
    "Router",
    "can_see",
    "in_queue",
    "present",
    "serves",
    "visible_clause",
]

#: After this many unclaimed offers a ticket is escalated to supervisors.
OFFERS_BEFORE_SUPERVISOR = 2
CLAIM_RETRIES = 5

Emit = Callable[[str, Ticket, "int | None", "dict[str, Any] | None"], Awaitable[None]]
#: told of a ticket whose offer lapsed with nobody else to take it (the customer's promised
#: wait is broken: `handoff.callback.follow_up`)
Lapsed = Callable[[Ticket, dt.datetime], Awaitable[None]]


def in_queue(
    skills: Collection[str], languages: Collection[str], topic: str, language: str
) -> bool:
    """Whether skills and languages cover a queue: the one rule behind routing (`serves`) and
    visibility (`can_see`, `visible_clause`, the queue list)."""
    return (topic in skills or ANY_TOPIC in skills) and language in languages


def visible_clause(principal: Principal) -> Any:
    """SQL filter of the tickets an agent may see: their queues and their own tickets."""
    if principal.sees_all:
        return true()
    own = Ticket.agent_id == principal.agent_id
    queues: ColumnElement[bool] = HandoffQueue.language.in_(principal.languages)
    if ANY_TOPIC not in principal.skills:
        queues = and_(HandoffQueue.topic.in_(principal.skills), queues)
    return or_(own, queues)


def can_see(principal: Principal, ticket: Ticket, queue: HandoffQueue) -> bool:
    if principal.sees_all or ticket.agent_id == principal.agent_id:
        return True
    return in_queue(principal.skills, principal.languages, queue.topic, queue.language)


def serves(agent: Agent, queue: HandoffQueue) -> bool:
    """Whether routing may offer the queue's tickets to the agent."""
    return in_queue(agent.skills or (), agent.languages or (), queue.topic, queue.language)


def present(config: HandoffConfig, now: dt.datetime) -> ColumnElement[bool]:
    """SQL filter of the agents who can answer now: online, and seen (a console request, an
    open console event stream) within ``config.presence_timeout`` seconds. A closed console
    stops counting on its own; a logout sets the agent away (`handoff.auth.logout`)."""
    since = now - dt.timedelta(seconds=config.presence_timeout)
    return and_(Agent.status == "online", Agent.last_seen_at >= since)


class Router:
    def __init__(
        self, db: Database, config: HandoffConfig, emit: Emit, lapsed: Lapsed | None = None
    ) -> None:
        self.db = db
        self.config = config
        self.emit = emit
        self.lapsed = lapsed
        self.hours = BusinessHours(config.business_hours, config.timezone, config.holidays)

    # ---- queues -----------------------------------------------------------------------------

    async def queue_for(self, topic: str, language: str) -> HandoffQueue:
        """The queue of a topic and language, created on first use (race-safe)."""
        query = select(HandoffQueue).where(
            HandoffQueue.topic == topic, HandoffQueue.language == language
        )
        # reads of one statement each: no transaction around them (`Database.run`)
        found = await self.db.run(lambda s: s.scalar(query), write=False)
        if found is not None:
            return found
        try:
            async with self.db.transaction() as s:
                s.add(HandoffQueue(topic=topic, language=language))
        except IntegrityError:
            pass  # another process created it first
        created = await self.db.run(lambda s: s.scalar(query), write=False)
        assert created is not None
        return created

    # ---- offering -----------------------------------------------------------------------------

    async def _candidates(
        self, queue: HandoffQueue, escalated: bool, exclude: set[int], now: dt.datetime
    ) -> list[Agent]:
        query = (
            select(Agent)
            .where(present(self.config, now), Agent.load < Agent.max_tickets)
            .order_by(Agent.load, Agent.id)
        )
        agents = await self.db.run(lambda s: s.scalars(query).all(), write=False)
        if escalated:
            picked = [a for a in agents if a.role in ("supervisor", "admin")]
        else:
            picked = [a for a in agents if serves(a, queue)]
        preferred = [a for a in picked if a.id not in exclude]
        return preferred or picked

    async def route(
        self, ticket_id: int, now: dt.datetime, exclude: Iterable[int] = (), gone: int | None = None
    ) -> Agent | None:
        """Offer a queued ticket to the least-loaded present agent who serves its queue (those
        in ``exclude`` last; ``gone``, whose offer lapsed unseen, not at all)."""
        found = await self._ticket_and_queue(ticket_id)
        if found is None or found[0].status != "queued":
            return None
        ticket, queue = found
        for agent in await self._candidates(queue, ticket.escalated, set(exclude), now):
            if agent.id == gone:
                continue
            try:
                async with self.db.transaction() as s:
                    if not await take_capacity(s, agent.id, online=True):
                        continue
                    await move(
                        s,
                        ticket,
                        {"status": "offered", "agent_id": agent.id, "offered_at": now},
                        statuses=("queued",),
                    )
                    s.add(TicketEvent(ticket_id=ticket.id, kind="offered", agent_id=agent.id))
            except Lost:
                return None  # claimed, routed or closed by somebody else meanwhile
            ticket.status, ticket.agent_id, ticket.offered_at = "offered", agent.id, now
            await self.emit("ticket.offered", ticket, agent.id, {"agent": agent.name})
            return agent
        return None

    async def route_waiting(self, now: dt.datetime, limit: int = 100) -> int:
        """Offer waiting tickets (highest priority, oldest first) to whoever is free now."""
        query = (
            select(Ticket.id)
            .where(Ticket.status == "queued")
            .order_by(Ticket.priority.desc(), Ticket.created_at, Ticket.id)
            .limit(limit)
        )
        ids = await self.db.run(lambda s: s.scalars(query).all(), write=False)
        offered = 0
        for ticket_id in ids:
            if await self.route(ticket_id, now) is not None:
                offered += 1
        return offered

    async def expire_offers(self, now: dt.datetime, of_agent: int | None = None) -> int:
        """Offers unclaimed after the timeout (``of_agent``: every offer to that agent, who
        went away) go back to the queue and to another agent; the second expiry escalates the
        ticket to supervisors (and raises its priority)."""
        cutoff = now - dt.timedelta(seconds=self.config.offer_timeout)
        lapsed = Ticket.offered_at <= cutoff if of_agent is None else Ticket.agent_id == of_agent
        query = select(Ticket).where(Ticket.status == "offered", lapsed)
        stale = await self.db.run(lambda s: s.scalars(query).all(), write=False)
        expired = 0
        for ticket in stale:
            previous, offered_at = ticket.agent_id, ticket.offered_at
            count = ticket.offer_count + 1
            escalate = count >= OFFERS_BEFORE_SUPERVISOR and not ticket.escalated
            values: dict[str, Any] = {
                "status": "queued",
                "agent_id": None,
                "offered_at": None,
                "offer_count": count,
            }
            if escalate:
                values.update(escalated=True, priority=ticket.priority + 1)
            try:
                async with self.db.transaction() as s:
                    kind = "escalated" if escalate else "offer_expired"
                    await offer_back(s, ticket, values, kind=kind)
            except Lost:
                continue
            expired += 1
            for key, value in values.items():
                setattr(ticket, key, value)
            await self.emit(
                "ticket.escalated" if escalate else "ticket.offer_expired",
                ticket,
                previous,
                {"offer_count": count},
            )
            await self._after_lapse(ticket, previous, offered_at, now)
        return expired

    async def _after_lapse(
        self, ticket: Ticket, previous: int | None, offered_at: dt.datetime | None, now: dt.datetime
    ) -> None:
        """Offer the ticket to somebody else: to the agent whose offer lapsed only if they
        showed life since it was made. Nobody else takes it (escalated to nobody, too): the
        `lapsed` listener tells the customer."""
        gone = None
        if previous is not None:
            query = select(Agent.last_seen_at).where(Agent.id == previous)
            seen = await self.db.run(lambda s: s.scalar(query), write=False)
            if seen is None or offered_at is None or seen <= offered_at:
                gone = previous
        agent = await self.route(ticket.id, now, exclude={previous} if previous else (), gone=gone)
        if self.lapsed is None or (agent is not None and agent.id != previous):
            return
        fresh, _ = await self.load(ticket.id)
        if fresh.status == "queued" or (fresh.status == "offered" and fresh.agent_id == previous):
            await self.lapsed(fresh, now)

    # ---- taking and giving back ---------------------------------------------------------------

    async def claim(self, ticket_id: int, principal: Principal, now: dt.datetime) -> Ticket:
        """The calling agent takes the ticket (queued, offered to them, or, for supervisors,
        offered to somebody else). Idempotent for the owner."""
        me = principal.agent_id
        if me is None:
            raise Forbidden("the admin token is not an agent: log in as an agent to claim")
        for _ in range(CLAIM_RETRIES):
            ticket, queue = await self.load(ticket_id)
            if not can_see(principal, ticket, queue):
                raise Forbidden("this ticket is not in your queues")
            if ticket.status == "assigned" and ticket.agent_id == me:
                return ticket
            if ticket.status not in ("queued", "offered") or (
                ticket.status == "offered" and ticket.agent_id != me and not principal.supervises
            ):
                raise Conflict(f"ticket {ticket_id} is {ticket.status}; it cannot be claimed")
            values = {"status": "assigned", "agent_id": me, "assigned_at": now}
            released: int | None = None
            try:
                async with self.db.transaction() as s:
                    mine = ticket.status == "offered" and ticket.agent_id == me
                    if not mine and not await take_capacity(s, me, online=False):
                        released = await release_an_offer(s, me, ticket.id)
                        if released is None or not await take_capacity(s, me, online=False):
                            raise Conflict("you are at your limit of open tickets")
                    await move(s, ticket, values, statuses=(ticket.status,))
                    if not mine:
                        await give_back(s, ticket.agent_id)
                    s.add(TicketEvent(ticket_id=ticket.id, kind="assigned", agent_id=me))
                    facts = analytics.handed_to(ticket, queue.topic, me, now, self.hours)
                    await analytics.record_async(s, facts)
            except Lost:
                continue
            for key, value in values.items():
                setattr(ticket, key, value)
            await self.emit("ticket.assigned", ticket, me, {"agent": principal.name})
            if released is not None:  # back in the queue: to another agent
                given_back, _ = await self.load(released)
                await self.emit("ticket.offer_expired", given_back, me, {"given_back": True})
                await self.route(released, now, exclude={me})
            return ticket
        raise Conflict(f"ticket {ticket_id} keeps changing; try again")

    async def open_assigned(
        self, ticket: Ticket, principal: Principal, topic: str = DEFAULT_TOPIC
    ) -> bool:
        """Insert a new ticket already assigned to the calling agent, with their load, in one
        transaction: it is never queued, so no routing tick can offer it to anybody else
        meanwhile. `Conflict` at their limit (nothing is written); False when the customer
        has an open ticket already (the partial unique index), which the caller claims."""
        me = principal.agent_id
        if me is None:
            raise Forbidden("the admin token is not an agent: log in as an agent to take over")
        ticket.status, ticket.agent_id = "assigned", me
        try:
            async with self.db.transaction() as s:
                if not await take_capacity(s, me, online=False):
                    raise Conflict("you are at your limit of open tickets")
                s.add(ticket)
                await s.flush()
                s.add(
                    TicketEvent(ticket_id=ticket.id, kind="created", data={"reason": ticket.reason})
                )
                s.add(TicketEvent(ticket_id=ticket.id, kind="assigned", agent_id=me))
                await analytics.record_created(s, ticket, topic, me)
        except IntegrityError:
            return False
        return True

    async def hand_over(
        self,
        ticket: Ticket,
        values: dict[str, Any],
        *,
        kind: str,
        actor: int | None,
        to_agent: int | None = None,
        data: dict[str, Any] | None = None,
        facts: Sequence[Event] = (),
    ) -> None:
        """Move an open ticket away from its current agent (transfer, close): the old agent's
        load drops, the new agent's (if any) must fit their limit. ``facts``: the analytics
        events of the move, written in its transaction."""
        try:
            async with self.db.transaction() as s:
                if to_agent is not None and not await take_capacity(s, to_agent, online=False):
                    raise Conflict("that agent is at their limit of open tickets")
                await move(s, ticket, values, statuses=(ticket.status,))
                if ticket.status in ("offered", "assigned"):
                    await give_back(s, ticket.agent_id)
                s.add(TicketEvent(ticket_id=ticket.id, kind=kind, agent_id=actor, data=data or {}))
                await analytics.record_async(s, facts)
        except Lost as e:
            raise Conflict(f"ticket {ticket.id} changed meanwhile; reload it") from e
        for key, value in values.items():
            setattr(ticket, key, value)

    async def load(self, ticket_id: int) -> tuple[Ticket, HandoffQueue]:
        """The ticket and its queue; `NotFound` when there is no such ticket."""
        found = await self._ticket_and_queue(ticket_id)
        if found is None:
            raise NotFound(f"no ticket {ticket_id}")
        return found

    async def _ticket_and_queue(self, ticket_id: int) -> tuple[Ticket, HandoffQueue] | None:
        # one statement without a transaction around it: one round trip on PostgreSQL (the
        # worker's handoff gate and relay read the ticket on every message while it is open)
        query = (
            select(Ticket, HandoffQueue)
            .join(HandoffQueue, HandoffQueue.id == Ticket.queue_id)
            .where(Ticket.id == ticket_id)
        )
        row = await self.db.run(lambda s: s.execute(query).first(), write=False)
        if row is None:
            return None
        ticket, queue = row
        return ticket, queue
