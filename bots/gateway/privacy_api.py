"""Admin API for a customer's data (issue 16): the export document, erasure jobs, and the
customer's own signed export link from the chat.

- ``GET /api/customers/{id}/export``: the JSON document (`bots.privacy.export`), as a download;
  audited as ``customer.exported``.
- ``POST /api/customers/{id}/erase``: 202 and the job (``id``, ``state``, ``receipt``...), run in
  the background; 409 when the customer or one of their tickets is under legal hold.
- ``GET /api/erasures/{id}``: the job, with its receipt once done.
- ``GET /privacy/export/{token}``: the export for the holder of a link the chat handed out
  (signed, expiring; no other credential).

The three admin routes go through the admin API's own guard (`bots.gateway.admin_api`), so they
accept exactly who the other admin routes accept.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web

from bots.config import Settings
from bots.gateway.admin_api import Resources, _AdminApi, _error, _id
from bots.privacy.erasure import LegalHoldRefused, job_view
from bots.privacy.service import PrivacyService
from handoff.login import PRINCIPAL
from storage.errors import NotFound

__all__ = ["privacy_routes"]


def _actor(request: web.Request) -> str:
    """Who the guard let in, as the audit log names callers."""
    principal = request.get(PRINCIPAL)
    agent = principal.agent_id if principal is not None else None
    return "admin-token" if agent is None else f"agent:{agent}"


def privacy_routes(
    settings: Settings, resources: Resources, service: Callable[[], PrivacyService]
) -> list[web.RouteDef]:
    """Routes of the privacy API; ``service`` gives the app's `PrivacyService` once open."""
    guard = _AdminApi(settings, resources).guard
    api = _PrivacyApi(service)
    return [
        web.get("/api/customers/{id}/export", guard(api.export)),
        web.post("/api/customers/{id}/erase", guard(api.erase)),
        web.get("/api/erasures/{id}", guard(api.erasure)),
        web.get("/privacy/export/{token}", api.link),
    ]


def _download(doc: dict[str, object], customer_id: int) -> web.Response:
    return web.Response(
        body=json.dumps(doc, ensure_ascii=False, indent=1).encode(),
        content_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="customer-{customer_id}.json"',
            "Cache-Control": "no-store",
        },
    )


class _PrivacyApi:
    def __init__(self, service: Callable[[], PrivacyService]) -> None:
        self._service = service

    async def export(self, request: web.Request) -> web.Response:
        customer_id = _id(request)
        doc = await self._service().export(customer_id, _actor(request), ip=request.remote)
        return _download(doc, customer_id)

    async def erase(self, request: web.Request) -> web.Response:
        service = self._service()
        try:
            job = await service.request_erasure(_id(request), _actor(request))
        except LegalHoldRefused as e:
            return _error(409, str(e))
        if job.state == "done":  # erased already: that job, nothing run (or audited) again
            return web.json_response(job_view(job), status=200)
        service.start(job.id)
        return web.json_response(job_view(job), status=202)

    async def erasure(self, request: web.Request) -> web.Response:
        job = await self._service().job(_id(request))
        return web.json_response(job_view(job))

    async def link(self, request: web.Request) -> web.Response:
        service = self._service()
        customer_id = service.link_customer(request.match_info["token"])
        if customer_id is None:
            return _error(404, "this link is not valid (or has expired): ask in the chat again")
        actor = f"customer:{customer_id}"
        try:
            doc = await service.export(customer_id, actor, ip=request.remote)
        except NotFound:
            return _error(404, "nothing is kept about you any more")
        return _download(doc, customer_id)
