"""Legal holds: ``PUT``/``DELETE /api/customers/{id}/legal-hold`` and
``/api/tickets/{id}/legal-hold`` set or clear the flag that stops retention (and erasure) from
clearing a customer's or a ticket's data. Admins only (the admin token, an admin's agent token
or console session: `handoff.login.gate`, rules in `handoff.access`). Each change is audited
(``legal_hold.set`` / ``legal_hold.cleared``) in the transaction that makes it; setting a hold
that is already set (or clearing a clear one) changes nothing and records nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bots.config import Settings, secret
from handoff.auth import Principal
from handoff.login import gate
from handoff.models import Ticket
from storage.audit import record_audit
from storage.db import Database
from storage.models import Customer

__all__ = ["hold_routes"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TARGETS: dict[str, type[Customer] | type[Ticket]] = {"customer": Customer, "ticket": Ticket}


def hold_routes(settings: Settings, database: Callable[[], Database]) -> list[web.RouteDef]:
    """The legal hold routes; ``database`` gives the app's database once it is open."""
    token = secret(settings.admin_token)
    routes = []
    for target, path in (("customer", "/api/customers"), ("ticket", "/api/tickets")):
        for method, hold in (("PUT", True), ("DELETE", False)):
            handler = _handler(database, token, target, hold)
            routes.append(web.route(method, f"{path}/{{id}}/legal-hold", handler))
    return routes


def _actor(p: Principal) -> str:
    return "admin-token" if p.agent_id is None else f"agent:{p.agent_id}"


def _handler(
    database: Callable[[], Database], token: str | None, target: str, hold: bool
) -> Handler:
    model = TARGETS[target]

    async def change(request: web.Request) -> web.StreamResponse:
        db = database()
        found = await gate(request, db, token)
        if isinstance(found, web.Response):
            return found
        try:
            row_id = int(request.match_info["id"])
        except ValueError:
            return web.json_response({"error": "the id must be a number"}, status=400)
        async with db.transaction() as s:
            row: Any = await s.get(model, row_id, with_for_update=True)
            if row is None:
                return web.json_response({"error": f"no {target} {row_id}"}, status=404)
            changed = bool(row.legal_hold) != hold
            if changed:
                row.legal_hold = hold
                await record_audit(
                    s,
                    actor=_actor(found),
                    role=found.role,
                    action="legal_hold.set" if hold else "legal_hold.cleared",
                    target_type=target,
                    target_id=row_id,
                    ip=request.remote,
                )
        log.info("legal hold %s on %s %d", "set" if hold else "cleared", target, row_id)
        return web.json_response({"id": row_id, "legal_hold": hold, "changed": changed})

    return change
