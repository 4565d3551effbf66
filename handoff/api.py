"""The agent and admin HTTP API and the console login (wired into the application by
`handoff.wiring.setup`).

Authentication, the CSRF check and the access rules are `handoff.login.gate` (rules:
`handoff.access`); the login itself is `handoff.login.Login`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from handoff.accounts import Accounts, json_body, text_field
from handoff.auth import LANGUAGES, Principal, seen
from handoff.config import DEFAULT_TOPIC, HandoffConfig
from handoff.conversations import DEFAULT_LIMIT, list_conversations
from handoff.errors import Forbidden, HandoffError, NotFound
from handoff.events import HandoffEvent
from handoff.hook import HandoffHook
from handoff.login import COOKIE, Login, gate, record
from handoff.metrics_api import metrics_routes
from handoff.models import Agent
from handoff.routing import can_see
from handoff.service import HandoffService
from handoff.views import (
    agent_json,
    agent_name,
    list_tickets,
    queues_summary,
    ticket_detail,
    ticket_json,
    transfer_targets,
)

__all__ = ["COOKIE", "HANDOFF", "HOOK", "routes"]

log = logging.getLogger(__name__)

HANDOFF = web.AppKey("handoff", HandoffService)
HOOK = web.AppKey("handoff_hook", HandoffHook)
SSE_KEEPALIVE = 15.0

Handler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]


def routes(config: HandoffConfig) -> list[web.RouteDef]:
    api = _Api(config)
    guard = api.guard
    accounts = Accounts(config, lambda request: request.app[HANDOFF].db)
    login = Login(
        config.login,
        config.console_session_hours,
        config.cookie_secure,
        lambda request: (request.app[HANDOFF].db, request.app[HANDOFF].backends),
    )
    return [
        web.post("/console/login", login.login),
        web.post("/console/logout", guard(accounts.logout)),
        web.get("/api/me", guard(api.me)),
        web.post("/api/me/status", guard(api.set_status)),
        web.post("/api/me/sessions/revoke", guard(accounts.revoke_mine)),
        web.get("/api/queues", guard(api.queues)),
        web.get("/api/conversations", guard(api.conversations)),
        web.get("/api/tickets", guard(api.tickets)),
        web.post("/api/tickets", guard(api.take_over)),
        web.get("/api/tickets/{id:\\d+}", guard(api.ticket)),
        web.post("/api/tickets/{id:\\d+}/claim", guard(api.claim)),
        web.post("/api/tickets/{id:\\d+}/messages", guard(api.message)),
        web.post("/api/tickets/{id:\\d+}/close", guard(api.close)),
        web.post("/api/tickets/{id:\\d+}/transfer", guard(api.transfer)),
        web.get("/api/events", guard(api.events)),
        web.get("/api/agents", guard(accounts.agents)),
        web.get("/api/agents/names", guard(accounts.agent_names)),
        web.post("/api/agents", guard(accounts.add_agent)),
        web.post("/api/agents/{id:\\d+}/sessions/revoke", guard(accounts.revoke_agent)),
        web.patch("/api/agents/{id:\\d+}", guard(accounts.change_agent)),
        *metrics_routes(guard, lambda request: request.app[HANDOFF]),
    ]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _Api:
    def __init__(self, config: HandoffConfig) -> None:
        self.config = config

    # ---- authentication -------------------------------------------------------------------------

    def guard(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            found = await gate(request, request.app[HANDOFF].db, self.config.admin_token)
            if isinstance(found, web.Response):
                return found
            await _seen(request.app[HANDOFF], found)  # any console request: they are there
            try:
                return await handler(request, found)
            except HandoffError as e:
                return _error(e.status, str(e))

        return wrapped

    # ---- who am I -------------------------------------------------------------------------------

    async def me(self, request: web.Request, principal: Principal) -> web.Response:
        doc: dict[str, Any] = {"name": principal.name, "role": principal.role, "id": None}
        if principal.agent_id is not None:
            async with request.app[HANDOFF].db.session() as s:
                agent = await s.get(Agent, principal.agent_id)
            if agent is not None:
                doc = agent_json(agent)
        doc["csrf_token"] = principal.csrf_token
        return web.json_response(doc)

    async def set_status(self, request: web.Request, principal: Principal) -> web.Response:
        doc = await json_body(request)
        await request.app[HANDOFF].set_status(principal, text_field(doc, "status"))
        return web.json_response({"status": doc["status"]})

    # ---- tickets --------------------------------------------------------------------------------

    async def queues(self, request: web.Request, principal: Principal) -> web.Response:
        """The caller's queues; with ``?all=1`` every queue a ticket may be transferred to."""
        service = request.app[HANDOFF]
        every = request.query.get("all", "").lower()
        if every not in ("", "0", "1", "true", "false"):
            raise HandoffError("all is 1 or 0")
        if every in ("1", "true"):
            config = service.config
            languages = {*LANGUAGES, config.default_language}
            topics = {*config.topics.values(), DEFAULT_TOPIC}
            found = await transfer_targets(service.db, topics, languages)
        else:
            found = await queues_summary(service.db, principal)
        return web.json_response({"queues": found})

    async def conversations(self, request: web.Request, principal: Principal) -> web.Response:
        """Customers by their latest message (``?q=`` name, phone or id; ``?limit=``) that
        the caller may take over, each with the open ticket if there is one."""
        service = request.app[HANDOFF]
        raw = request.query.get("limit", str(DEFAULT_LIMIT))
        if not (raw.isascii() and raw.isdigit()):
            raise HandoffError("limit is a number")
        found = await list_conversations(
            service.db,
            service.backends.sessions,
            service.config,
            principal,
            request.query.get("q"),
            int(raw),
        )
        return web.json_response({"conversations": found})

    async def tickets(self, request: web.Request, principal: Principal) -> web.Response:
        service = request.app[HANDOFF]
        found = await list_tickets(service.db, principal, request.query.get("status"))
        return web.json_response({"tickets": found})

    async def ticket(self, request: web.Request, principal: Principal) -> web.Response:
        service = request.app[HANDOFF]
        ticket, queue = await service.router.load(int(request.match_info["id"]))
        if not can_see(principal, ticket, queue):
            raise Forbidden("this ticket is not in your queues")
        doc = await ticket_detail(service.db, ticket, queue)
        detail = {"customer_id": ticket.customer_id, "entries": len(doc.get("transcript") or ())}
        trusted = self.config.login.trusted_proxies
        await record(
            request,
            service.db,
            "transcript.viewed",
            principal,
            trusted,
            detail=detail,
            target_type="ticket",
            target_id=ticket.id,
        )
        return web.json_response(doc)

    async def take_over(self, request: web.Request, principal: Principal) -> web.Response:
        doc = await json_body(request)
        customer_id = doc.get("customer_id")
        if not isinstance(customer_id, int):
            raise HandoffError("customer_id is an integer")
        service = request.app[HANDOFF]
        ticket = await service.take_over(customer_id, principal)
        return await self._ticket_answer(request, ticket.id, status=201)

    async def claim(self, request: web.Request, principal: Principal) -> web.Response:
        ticket = await request.app[HANDOFF].claim(int(request.match_info["id"]), principal)
        return await self._ticket_answer(request, ticket.id)

    async def message(self, request: web.Request, principal: Principal) -> web.Response:
        doc = await json_body(request)
        row = await request.app[HANDOFF].agent_message(
            int(request.match_info["id"]), principal, text_field(doc, "text")
        )
        return web.json_response(
            {"id": row.id, "channel": row.channel, "status": row.status, "from": "agent"},
            status=201,
        )

    async def close(self, request: web.Request, principal: Principal) -> web.Response:
        doc = await json_body(request)
        resolution = text_field(doc, "resolution")
        ticket = await request.app[HANDOFF].close(
            int(request.match_info["id"]), principal, resolution
        )
        return await self._ticket_answer(request, ticket.id)

    async def transfer(self, request: web.Request, principal: Principal) -> web.Response:
        doc = await json_body(request)
        agent_id = doc.get("agent_id")
        if agent_id is not None and not isinstance(agent_id, int):
            raise HandoffError("agent_id is an integer")
        topic = text_field(doc, "topic", required=False, limit=64) or None
        language = text_field(doc, "language", required=False, limit=16) or None
        if agent_id is None and topic is None and language is None:
            raise HandoffError("give agent_id, or a topic and/or language for the new queue")
        ticket = await request.app[HANDOFF].transfer(
            int(request.match_info["id"]),
            principal,
            topic=topic,
            language=language,
            agent_id=agent_id,
        )
        return await self._ticket_answer(request, ticket.id)

    async def _ticket_answer(
        self, request: web.Request, ticket_id: int, status: int = 200
    ) -> web.Response:
        service = request.app[HANDOFF]
        ticket, queue = await service.router.load(ticket_id)
        name = await agent_name(service.db, ticket.agent_id)
        return web.json_response(ticket_json(ticket, queue, name), status=status)

    # ---- live events ----------------------------------------------------------------------------

    async def events(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        """Server-sent events: `event: <kind>` and `data: <json>` for what this agent may see."""
        service = request.app[HANDOFF]
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        async with service.bus.subscribe() as sub:
            await response.prepare(request)
            await response.write(b": connected\n\n")
            visible: dict[int, bool] = {}
            heard = time.monotonic()
            while True:
                event = await sub.get(timeout=SSE_KEEPALIVE)
                if time.monotonic() - heard >= SSE_KEEPALIVE:  # an open console: they are there
                    heard = time.monotonic()
                    await _seen(service, principal)
                if event is None:
                    await response.write(b": keep-alive\n\n")
                    continue
                if not await _may_see(service, principal, event, visible):
                    continue
                await response.write(
                    f"id: {event.id}\nevent: {event.kind}\ndata: ".encode()
                    + event.to_json()
                    + b"\n\n"
                )
        return response  # pragma: no cover (the loop ends when the client goes away)


async def _seen(service: HandoffService, principal: Principal) -> None:
    if principal.agent_id is not None:
        await seen(service.db, principal.agent_id, service.clock())


async def _may_see(
    service: HandoffService, principal: Principal, event: HandoffEvent, cache: dict[int, bool]
) -> bool:
    if principal.sees_all or event.agent_id == principal.agent_id:
        return True
    if event.kind in ("ticket.created", "ticket.offer_expired", "ticket.transferred"):
        cache.pop(event.ticket_id, None)  # the ticket may have moved between queues
    if event.ticket_id not in cache:
        try:
            ticket, queue = await service.router.load(event.ticket_id)
        except NotFound:
            return False
        cache[event.ticket_id] = can_see(principal, ticket, queue)
    return cache[event.ticket_id]
