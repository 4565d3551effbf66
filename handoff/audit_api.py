"""The audit log for admins: ``GET /api/audit`` and the console page ``GET /console/audit``.

``GET /api/audit`` (admin bearer token, an admin's agent token or an admin's console session;
anyone else 403) answers ``{"entries": [...], "next_cursor": "..." | null}``, newest first.
Filters: ``action``, ``actor``, ``target_type`` (+ ``target_id``), ``since`` (inclusive) and
``until`` (exclusive) as ISO 8601 dates or times (UTC when no offset is given), ``limit``
(1-200, default 50) and ``cursor`` (the previous page's ``next_cursor``).

The page (`handoff/static/audit.html`; its `audit.js`, `audit.i18n.js` and `audit.css` are
served with the console's files, ``/console/static/``; English or Ukrainian as the console, with
the business default language filled in here) is for an admin's console session: an agent's or
supervisor's session gets 403, no session is sent to the console's login. The page puts every
value in with ``textContent``; the console's Content-Security-Policy is the second line of defence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from handoff import auth
from handoff.api import HANDOFF
from handoff.auth import Principal
from handoff.config import HandoffConfig
from handoff.console import SECURITY_HEADERS, static_text, with_language
from handoff.errors import Forbidden, HandoffError
from handoff.login import COOKIE, gate
from storage.audit import list_audit

__all__ = ["API_PATH", "PAGE_PATH", "routes"]

API_PATH = "/api/audit"
PAGE_PATH = "/console/audit"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_FILTER = 100
FORBIDDEN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>omnirelay — 403</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/static/audit.css">
</head><body class="forbidden"><main>
<h1>The audit log is for admins</h1>
<p lang="uk">Журнал аудиту — лише для адміністраторів.</p>
<p><a href="/console">Back to the console</a> · <a href="/console" lang="uk">До консолі</a></p>
</main></body></html>
"""


def routes(config: HandoffConfig) -> list[web.RouteDef]:
    """The API route behind `handoff.login.gate` (the rule table's line) and the page (its
    script and style are in `console.ASSETS`)."""

    async def guard(request: web.Request) -> web.StreamResponse:
        found = await gate(request, request.app[HANDOFF].db, config.admin_token)
        if isinstance(found, web.Response):
            return found
        try:
            return await entries(request, found)
        except HandoffError as e:
            return web.json_response({"error": str(e)}, status=e.status)

    async def audit_page(request: web.Request) -> web.StreamResponse:
        return await page(request, config)

    return [
        web.get(API_PATH, guard),
        web.get(PAGE_PATH, audit_page),
    ]


async def entries(request: web.Request, principal: Principal) -> web.Response:
    if principal.role != "admin":
        raise Forbidden("the audit log is for admins")
    filters = parse_filters(request.query)
    async with request.app[HANDOFF].db.session() as s:
        found = await list_audit(s, **filters)
    limit = filters["limit"]
    cursor = str(found[-1].id) if len(found) == limit else None
    return web.json_response(
        {"entries": [e.as_dict() for e in found], "next_cursor": cursor},
        headers={"Cache-Control": "no-store"},
    )


def parse_filters(query: Mapping[str, str]) -> dict[str, Any]:
    """`storage.audit.list_audit`'s keywords from the query string; `HandoffError` (400)."""
    filters: dict[str, Any] = {}
    for name in ("action", "actor", "target_type", "target_id"):
        value = query.get(name, "").strip()
        if len(value) > MAX_FILTER:
            raise HandoffError(f"{name} is longer than {MAX_FILTER} characters")
        filters[name] = value or None
    if filters["target_id"] is not None and filters["target_type"] is None:
        raise HandoffError("target_id needs target_type")
    filters["since"] = _instant(query, "since")
    filters["until"] = _instant(query, "until")
    filters["limit"] = _number(query, "limit", DEFAULT_LIMIT)
    if not 1 <= filters["limit"] <= MAX_LIMIT:
        raise HandoffError(f"limit is 1-{MAX_LIMIT}")
    filters["before_id"] = _number(query, "cursor", None)
    return filters


def _number(query: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = query.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise HandoffError(f"{name} is a number")
    return int(raw)


def _instant(query: Mapping[str, str], name: str) -> dt.datetime | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as e:
        raise HandoffError(f"{name} is an ISO 8601 date or time, e.g. 2026-12-07T09:00Z") from e
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


async def page(request: web.Request, config: HandoffConfig) -> web.StreamResponse:
    """The page, for an admin's console session only (checked before any of it is sent)."""
    cookie = request.cookies.get(COOKIE)
    principal = await auth.session_principal(request.app[HANDOFF].db, cookie) if cookie else None
    if principal is None:
        raise web.HTTPSeeOther("/console", headers=SECURITY_HEADERS)
    admin = principal.role == "admin"
    return web.Response(
        status=200 if admin else 403,
        text=with_language(static_text("audit.html"), config) if admin else FORBIDDEN,
        content_type="text/html",
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )
