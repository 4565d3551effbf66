"""Admin JSON API for customers: profiles with their channel identities, the cross-channel
timeline, proactive messages with their decisions and the consent log's current choices,
merging two profiles and undoing a merge. Bearer ``OMNIRELAY_ADMIN_TOKEN``, or an admin agent's
token or console session (`handoff.login.gate`, rules in `handoff.access`); anybody else is
refused (401 without credentials, 403 another role), never open."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bots.config import Settings, secret
from bots.gateway.hold_api import hold_routes
from bots.identity.service import IdentityService, build_identity, normalise_phone
from bots.messages import now_utc
from bots.proactive.triggers import consents, history
from handoff.login import PRINCIPAL, client_ip, gate
from storage.audit import audit
from storage.backends import Backends
from storage.db import Database
from storage.errors import NotFound
from storage.repositories.identity import IdentityRepository, MergeRefused, Profile

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Resources = Callable[[], tuple[Database, Backends]]


def admin_routes(settings: Settings, resources: Resources) -> list[web.RouteDef]:
    """Routes of the admin API; ``resources`` gives the app's database and backends once open."""
    api = _AdminApi(settings, resources)
    return [
        web.get("/api/customers", api.guard(api.search)),
        web.get("/api/customers/{id}", api.guard(api.customer)),
        web.get("/api/customers/{id}/transcript", api.guard(api.transcript)),
        web.get("/api/customers/{id}/proactive", api.guard(api.proactive)),
        web.post("/api/customers/{id}/merge", api.guard(api.merge)),
        web.post("/api/merges/{id}/undo", api.guard(api.undo)),
        *hold_routes(settings, lambda: resources()[0]),  # legal holds (bots/gateway/hold_api.py)
    ]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as e:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "the id must be a number"}), content_type="application/json"
        ) from e


class _AdminApi:
    def __init__(self, settings: Settings, resources: Resources) -> None:
        self._token = secret(settings.admin_token)
        self._settings = settings
        self._resources = resources

    def guard(self, handler: Handler) -> Handler:
        """The admin bearer token, an admin's agent token or an admin's console session (with
        its CSRF token on writes); the route's line in `handoff.access` decides the roles."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            db, _ = self._resources()
            found = await gate(request, db, self._token)
            if isinstance(found, web.Response):
                log.warning(
                    "admin API: refused %s %s from %s", request.method, request.path, request.remote
                )
                return found
            try:
                return await handler(request)
            except NotFound as e:
                return _error(404, str(e))
            except MergeRefused as e:
                return _error(409, str(e))

        return guarded

    def _service(self) -> IdentityService:
        db, backends = self._resources()
        return build_identity(self._settings, db, backends)

    async def search(self, request: web.Request) -> web.Response:
        raw = request.query.get("phone", "")
        phone = normalise_phone(raw)
        if phone is None:
            return _error(400, "give ?phone= as a valid phone number, e.g. +380501234567")
        db, _ = self._resources()
        async with db.session() as s:
            repo = IdentityRepository(s)
            found = await repo.find_by_phone(phone)
            profiles = [await repo.profile(c.id) for c in found]
        for p in profiles:
            await self._audit(request, "customer.viewed", p.customer.id, via="phone_search")
        return web.json_response({"customers": [_profile(p) for p in profiles]})

    async def customer(self, request: web.Request) -> web.Response:
        db, _ = self._resources()
        async with db.session() as s:
            profile = await IdentityRepository(s).profile(_id(request))
        await self._audit(request, "customer.viewed", profile.customer.id, part="profile")
        return web.json_response(_profile(profile))

    async def transcript(self, request: web.Request) -> web.Response:
        db, _ = self._resources()
        customer_id = _id(request)
        async with db.session() as s:
            repo = IdentityRepository(s)
            await repo.profile(customer_id)  # 404 for an unknown id
            entries = await repo.timeline(customer_id)
        await self._audit(request, "transcript.viewed", customer_id, entries=len(entries))
        return web.json_response(
            {
                "customer_id": customer_id,
                "transcript": [
                    {"at": e.at.isoformat(), "channel": e.channel, "from": e.sender, "text": e.text}
                    for e in entries
                ],
            }
        )

    async def proactive(self, request: web.Request) -> web.Response:
        """The customer's proactive messages (newest due first), each with every decision
        taken about it and its reason, and the current consent per topic."""
        db, _ = self._resources()
        customer_id = _id(request)
        async with db.session() as s:
            await IdentityRepository(s).profile(customer_id)  # 404 for an unknown id
            jobs = await history(s, customer_id)
            chosen = await consents(s, customer_id)
        await self._audit(request, "customer.viewed", customer_id, part="proactive")
        return web.json_response(
            {
                "customer_id": customer_id,
                "jobs": [job.as_dict() for job in jobs],
                "consents": {topic: c.as_dict() for topic, c in sorted(chosen.items())},
            }
        )

    async def merge(self, request: web.Request) -> web.Response:
        """Body ``{"other": ID, "code": "123456"}`` or ``{"other": ID, "force": true}``: merge
        ``other`` into this customer. Two profiles with different verified phones need a
        phone code the other profile received, or an explicit ``force``."""
        survivor = _id(request)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "the body must be JSON")
        other = body.get("other") if isinstance(body, dict) else None
        if not isinstance(other, int) or isinstance(other, bool):
            return _error(400, 'give {"other": <customer id>} (and "code" or "force")')
        force = body.get("force") is True
        db, _ = self._resources()
        async with db.session() as s:
            repo = IdentityRepository(s)
            mine, theirs = await repo.verified_phones(survivor), await repo.verified_phones(other)
        if mine and theirs and not (mine & theirs) and not force:
            code = body.get("code")
            if not isinstance(code, str) or not await self._code_ok(code, other, survivor):
                return _error(
                    409,
                    "the profiles have different verified phones: give the code sent to the "
                    'other profile ("code") or "force": true',
                )
        actor = "admin" + (":force" if force else "")
        record = await self._service().merge(
            survivor, other, actor=actor, reason="admin", now=now_utc()
        )
        moved = sum(len(ids) for ids in record.moved.values() if isinstance(ids, list))
        await self._audit(
            request,
            "customer.merged",
            survivor,
            absorbed=other,
            merge_id=record.id,
            forced=force,
            rows_moved=moved,
        )
        return web.json_response(
            {"merge_id": record.id, "survivor": survivor, "absorbed": other, "moved": record.moved}
        )

    async def _code_ok(self, code: str, owner: int, requester: int) -> bool:
        from storage.repositories.identity import LinkCodeError

        db, _ = self._resources()
        async with db.transaction() as s:
            try:
                row = await IdentityRepository(s).redeem(
                    code, kind="phone", by="admin", now=now_utc(), requester_id=requester
                )
            except LinkCodeError:
                return False
            return row.customer_id == owner

    async def undo(self, request: web.Request) -> web.Response:
        merge_id = _id(request)
        record = await self._service().undo(merge_id, actor="admin", now=now_utc())
        await self._audit(
            request,
            "merge.undone",
            record.survivor_id,
            merge_id=record.id,
            absorbed=record.absorbed_id,
        )
        return web.json_response(
            {
                "merge_id": record.id,
                "undone_at": record.undone_at.isoformat() if record.undone_at else None,
            }
        )

    async def _audit(
        self, request: web.Request, action: str, customer_id: int, **detail: Any
    ) -> None:
        """One audit entry (its own transaction: the view or merge is done) for whoever `gate`
        let in: ids and counts only, never the profile's data."""
        principal = request.get(PRINCIPAL)
        agent = principal.agent_id if principal is not None else None
        db, _ = self._resources()
        await audit(
            db,
            actor="admin-token" if agent is None else f"agent:{agent}",
            role=principal.role if principal is not None else "admin",
            action=action,
            target_type="customer",
            target_id=customer_id,
            ip=client_ip(request, self._settings.trusted_proxies),
            detail=detail,
        )


def _profile(p: Profile) -> dict[str, Any]:
    c = p.customer
    return {
        "id": c.id,
        "name": c.display_name,
        "email": c.email,
        "language": c.language,
        "consent": c.consent or {},
        "created_at": c.created_at.isoformat(),
        "last_seen_at": c.last_seen_at.isoformat() if c.last_seen_at else None,
        "last_channel": c.last_channel,
        "merged_into": c.merged_into_id,
        "phones": [
            {"phone": ph.phone, "verified": ph.verified, "verified_via": ph.verified_via}
            for ph in p.phones
        ],
        "identities": [
            {
                "channel": i.channel,
                "external_id": i.external_id,
                "name": i.display_name,
                "reachable": i.reachable,
                "last_inbound_at": i.last_inbound_at.isoformat() if i.last_inbound_at else None,
            }
            for i in p.identities
        ],
    }
