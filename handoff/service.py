"""The handoff service: opens tickets, relays both ways, closes with CSAT.

It is built once per process by `handoff.wiring.setup` and shared by the worker's handoff gate
(`handoff.hook`), the agent API and the routing ticker. What it needs from the rest of the
application is injected: the database, the session store and locks, reply templates, and an
`Outlet` that hands stored replies to this process's outbox (when it runs one; otherwise a
worker process's outbox sweeper sends them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from handoff import access, analytics, callback, conversations, csat
from handoff.auth import Principal
from handoff.config import HandoffConfig
from handoff.contracts import Escalation, Notice, Outlet, Texts, mark, new_ticket
from handoff.errors import Conflict, Forbidden, HandoffError, NotFound
from handoff.events import EventBus, HandoffEvent
from handoff.models import OPEN_STATUSES, Agent, Ticket, TicketEvent
from handoff.routing import Router
from handoff.waiting import estimate
from handoff.webhook import WebhookSender
from storage.backends import Backends
from storage.db import Database
from storage.errors import StaleSession
from storage.loops import every
from storage.models import Message, utcnow
from storage.repositories.messages import MessageRepository
from storage.sessions import Session

__all__ = ["CSAT_PAYLOAD", "Escalation", "HandoffService", "Notice", "Outlet", "Texts"]

log = logging.getLogger(__name__)

CSAT_PAYLOAD = "/csat_score"
SESSION_RETRIES = 5


class HandoffService:
    def __init__(
        self,
        *,
        db: Database,
        backends: Backends,
        config: HandoffConfig,
        texts: Texts,
        bus: EventBus,
        outlet: Outlet | None = None,
        webhook: WebhookSender | None = None,
        lock_timeout: float = 30.0,
        send_lease: float = 30.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.backends = backends
        self.config = config
        self.texts = texts
        self.bus = bus
        self.outlet = outlet
        self.webhook = webhook
        self.lock_timeout = lock_timeout
        self.send_lease = dt.timedelta(seconds=send_lease)
        self.clock = clock
        self.router = Router(db, config, self.emit, self._lapsed)
        self.hours = self.router.hours
        # told of every event after the consoles (proactive follow-ups); best effort, logged
        self.listeners: list[Callable[[HandoffEvent], Awaitable[None]]] = []

    # ---- events -------------------------------------------------------------------------------

    async def emit(
        self, kind: str, ticket: Ticket, agent_id: int | None, data: dict[str, Any] | None = None
    ) -> None:
        """Publish to the consoles (SSE) and, when configured, to the outbound webhook."""
        event = HandoffEvent(
            kind=kind,
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            queue_id=ticket.queue_id,
            agent_id=agent_id,
            data={"status": ticket.status, **(data or {})},
            id=uuid.uuid4().hex,
        )
        await self.bus.publish(event)
        if self.webhook is not None:
            self.webhook.submit(event)
        for listener in self.listeners:
            try:
                await listener(event)
            except Exception:
                log.exception("a listener of %s (ticket %s) failed", kind, ticket.id)

    # ---- opening ------------------------------------------------------------------------------

    async def open_ticket(
        self, customer_id: int, esc: Escalation, now: dt.datetime, *, topic: str | None = None
    ) -> tuple[Ticket, bool]:
        """The customer's open ticket: a new one, offered at once when somebody is free, or
        the one already open (idempotent: the partial unique index allows one open ticket per
        customer). True when created. ``topic``: the queue's (default: by flow and intent)."""
        topic = topic or self.config.topic_for(esc.flow, esc.intent)
        queue = await self.router.queue_for(topic, esc.language)
        ticket = new_ticket(customer_id, esc, queue.id, now)
        try:
            async with self.db.transaction() as s:
                s.add(ticket)
                await s.flush()
                s.add(TicketEvent(ticket_id=ticket.id, kind="created", data={"reason": esc.reason}))
                await analytics.record_created(s, ticket, topic)
        except IntegrityError:
            existing = await self.open_ticket_of(customer_id)
            if existing is None:
                raise
            return existing, False
        await self.emit("ticket.created", ticket, None, {"reason": esc.reason, "topic": topic})
        await self.router.route(ticket.id, now)
        fresh, _ = await self.router.load(ticket.id)
        return fresh, True

    async def open_ticket_of(self, customer_id: int) -> Ticket | None:
        query = select(Ticket).where(
            Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_STATUSES)
        )
        return await self.db.run(lambda s: s.scalar(query), write=False)  # one round trip

    async def wait_notice(
        self, ticket: Ticket, language: str, now: dt.datetime, *, phone: str | None, prefix: str
    ) -> tuple[Notice, bool]:
        """The wait notice from the real queue and agents (`handoff.waiting`), or, when nobody
        can answer soon, the offer of a call back or a message (`handoff.callback`); True:
        the offer. ``phone``: the customer's known one; ``prefix``: a sentence before it."""
        wait = await estimate(self.db, self.config, self.hours, ticket, now)
        return callback.notice(self, wait, language, phone, prefix)

    async def take_over(self, customer_id: int, principal: Principal) -> Ticket:
        """An agent or supervisor picks a conversation up on their own (see
        `handoff.conversations.take_over`); the customer's open task ends with it."""
        ticket, queue = await self.router.load(
            (await conversations.take_over(self, customer_id, principal)).id
        )
        db, backends, wait = self.db, self.backends, self.lock_timeout
        await analytics.end_task_on_take_over(db, backends, ticket, queue.topic, wait)
        return ticket

    # ---- agents at work -------------------------------------------------------------------------

    async def claim(self, ticket_id: int, principal: Principal) -> Ticket:
        ticket = await self.router.claim(ticket_id, principal, self.clock())
        await self.set_session(ticket.customer_id, mark(ticket.id, "agent"))
        return ticket

    async def agent_message(self, ticket_id: int, principal: Principal, text: str) -> Message:
        """Store the agent's reply in the transcript and send it where the customer wrote last."""
        text = text.strip()
        if not text:
            raise HandoffError("the message text is empty")
        ticket, queue = await self.router.load(ticket_id)
        access.in_teams(principal, ticket, queue)
        if ticket.status != "assigned":
            raise Conflict(f"ticket {ticket_id} is {ticket.status}: claim it before replying")
        if ticket.agent_id != principal.agent_id and not principal.supervises:
            raise Forbidden("this ticket belongs to another agent")
        now = self.clock()
        row = await self._send(ticket.customer_id, text, (), "agent", now, ticket_id=ticket.id)
        async with self.db.transaction() as s:
            first = await s.execute(
                update(Ticket)
                .where(Ticket.id == ticket.id, Ticket.first_response_at.is_(None))
                .values(first_response_at=now)
            )
            if getattr(first, "rowcount", 0):
                fact = analytics.first_response(  # the holder's, as every ticket metric
                    ticket, queue.topic, ticket.agent_id, now, self.hours
                )
                await analytics.record_async(s, [fact])
        await self.emit(
            "message.agent",
            ticket,
            principal.agent_id,
            {"text": text, "channel": row.channel, "message_id": row.id, "at": now.isoformat()},
        )
        return row

    async def transfer(
        self,
        ticket_id: int,
        principal: Principal,
        *,
        topic: str | None = None,
        language: str | None = None,
        agent_id: int | None = None,
    ) -> Ticket:
        """To another queue (it waits there and is routed again) or straight to an agent."""
        ticket, queue = await self.router.load(ticket_id)
        access.in_teams(principal, ticket, queue)
        if ticket.status not in OPEN_STATUSES:
            raise Conflict(f"ticket {ticket_id} is closed")
        access.in_hands(principal, ticket, "transfer")
        now = self.clock()
        if agent_id is not None:
            target = await self.db.run(lambda s: s.get(Agent, agent_id), write=False)
            if target is None:
                raise NotFound(f"no agent {agent_id}")
            values: dict[str, Any] = {"status": "assigned", "agent_id": target.id}
            values["assigned_at"] = now
            await self.router.hand_over(
                ticket,
                values,
                kind="transferred",
                actor=principal.agent_id,
                to_agent=target.id,
                data={"to_agent": target.id},
                facts=analytics.handed_to(ticket, queue.topic, target.id, now, self.hours),
            )
            await self.set_session(ticket.customer_id, mark(ticket.id, "agent"))
            await self.emit("ticket.transferred", ticket, target.id, {"agent": target.name})
            await self.emit("ticket.assigned", ticket, target.id, {"agent": target.name})
            return ticket
        new_queue = await self.router.queue_for(
            (topic or queue.topic).strip().lower(), (language or queue.language).strip().lower()
        )
        values = {
            "status": "queued",
            "agent_id": None,
            "offered_at": None,
            "queue_id": new_queue.id,
        }
        await self.router.hand_over(
            ticket,
            values,
            kind="transferred",
            actor=principal.agent_id,
            data={"queue": f"{new_queue.topic}/{new_queue.language}"},
            facts=[analytics.assigned(ticket, new_queue.topic, None, now)],
        )
        await self.set_session(ticket.customer_id, mark(ticket.id, "pending"))
        await self.emit(
            "ticket.transferred", ticket, principal.agent_id, {"queue_id": new_queue.id}
        )
        await self.router.route(ticket.id, now)
        await self.router.route_waiting(now)
        return (await self.router.load(ticket.id))[0]

    async def close(self, ticket_id: int, principal: Principal, resolution: str) -> Ticket:
        """Close with a resolution: the bot takes over, offers the unfinished task, asks CSAT."""
        ticket, queue = await self.router.load(ticket_id)
        access.in_teams(principal, ticket, queue)
        if ticket.status == "closed":
            raise Conflict(f"ticket {ticket_id} is closed already")
        access.in_hands(principal, ticket, "close")
        now = self.clock()
        # An agents' task the customer never heard of (an alert nobody answered) ends quietly.
        quiet = ticket.reason.startswith("alert:") and ticket.first_response_at is None
        values = {"status": "closed", "resolved_at": now, "resolution": resolution.strip()}
        facts = analytics.resolved(ticket, queue.topic, now, self.hours, csat_asked=not quiet)
        await self.router.hand_over(
            ticket, values, kind="closed", actor=principal.agent_id, facts=facts
        )

        def back_to_bot(session: Session) -> None:
            session.handoff = None
            session.ticket_id = None
            session.escalation = None
            session.data.pop(callback.STATE, None)
            if not quiet:
                session.data[csat.PENDING] = csat.pending(ticket, session)
            session.fallback_count = 0

        session = await self.set_session(ticket.customer_id, back_to_bot)
        if not quiet:
            await self._goodbye(ticket, session.language or ticket.language, now)
        data = {"resolution": resolution, "csat_asked": not quiet}
        await self.emit("ticket.closed", ticket, principal.agent_id, data)
        await self.router.route_waiting(now)
        return ticket

    async def _goodbye(self, ticket: Ticket, language: str, now: dt.datetime) -> None:
        """The closing message and the CSAT question; the unfinished task is offered again
        after the rating (`csat.resume_offer`)."""
        await self._send(ticket.customer_id, self.texts("handoff_closed", language), (), "bot", now)
        scores = tuple((str(n), f'{CSAT_PAYLOAD}{{"score":{n}}}') for n in range(1, 6))
        text = self.texts("handoff_csat", language)
        await self._send(ticket.customer_id, text, scores, "bot", now)

    async def record_csat(self, ticket_id: int, score: int) -> bool:
        """The customer's rating of a closed ticket (`handoff.csat.record`)."""
        return await csat.record(self, ticket_id, score)

    async def set_status(self, principal: Principal, status: str) -> None:
        me, now = principal.agent_id, self.clock()
        if me is None:
            raise Forbidden("the admin token has no online status")
        if status not in ("online", "away"):
            raise HandoffError("status is online or away")
        values = {"status": status, "last_seen_at": now}
        async with self.db.transaction() as s:
            await s.execute(update(Agent).where(Agent.id == me).values(**values))
        if status == "online":
            await self.router.route_waiting(now)
        else:  # what was offered to them goes on at once (or the customer is told)
            await self.router.expire_offers(now, of_agent=me)

    async def _lapsed(self, ticket: Ticket, now: dt.datetime) -> None:
        """An offer lapsed with nobody else to take the ticket: `callback.follow_up`."""
        told = await callback.follow_up(self, ticket, now)
        if told is not None:
            await self._send(ticket.customer_id, told.text, told.buttons, "bot", now)

    async def tick(self) -> None:
        """Re-offer expired offers and offer waiting tickets to agents who became free."""
        now = self.clock()
        await self.router.expire_offers(now)
        await self.router.route_waiting(now)

    async def run_ticker(self, stop: asyncio.Event) -> None:
        """`tick` now and every ``config.tick`` seconds until ``stop``."""
        await every(self.config.tick, self.tick, stop, name="handoff routing tick")

    # ---- plumbing -------------------------------------------------------------------------------

    async def set_session(self, customer_id: int, change: Callable[[Session], None]) -> Session:
        """Change the customer's session under their lock (the worker holds it per message),
        retrying when a concurrent save won; a take-over marks the session through this too."""
        sessions = self.backends.sessions
        async with self.backends.locks.hold(customer_id, self.lock_timeout):
            for _ in range(SESSION_RETRIES):
                session = await sessions.get(customer_id)
                change(session)
                try:
                    return await sessions.save(session)
                except StaleSession:
                    continue
        raise Conflict(f"the session of customer {customer_id} keeps changing")

    async def _send(
        self,
        customer_id: int,
        text: str,
        buttons: tuple[tuple[str, str], ...],
        sender: str,
        now: dt.datetime,
        *,
        ticket_id: int | None = None,
    ) -> Message:
        """Store a pending reply on the customer's last channel and hand it to the outbox."""
        live = self.outlet is not None and self.outlet.live
        async with self.db.transaction() as s:
            last = await conversations.last_inbound(s, customer_id)
            if last is None:
                raise NotFound(f"customer {customer_id} has never written to us")
            body = {
                "text": text,
                "buttons": [{"title": t, "payload": p} for t, p in buttons],
                "request_phone": False,
                "attachment": None,
                "sender": sender,
            }
            if ticket_id is not None:
                body["ticket_id"] = ticket_id  # whose delivery outcome it is (handoff.delivery)
            # Sent by this process right after the commit; a sweeper takes over only if this
            # process dies first (or sends it at once when this process has no outbox).
            row = await MessageRepository(s).add_outbound(
                customer_id,
                last.conversation_id,
                last.channel,
                last.external_user_id,
                sender,
                text,
                body,
                None,
                now,
                due_at=now + self.send_lease if live else now,
            )
        if live and self.outlet is not None:
            self.outlet.dispatch(row.id, row.channel, row.external_user_id, body, last.created_at)
        return row
