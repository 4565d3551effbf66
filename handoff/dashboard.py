"""`GET /console/dashboard`: the supervisors' metrics dashboard, one static page over
`GET /api/metrics/summary` and `GET /api/metrics/export.csv`.

The role is checked here, on the server, before any of the page is sent: a console session of a
supervisor (or admin) gets the page, an agent's session gets 403, no session is sent to the
console's login. The JSON endpoints check the role again on every call, so the page is a view,
never the gate.

The page (`handoff/static/dashboard.html`, `dashboard.js`, `dashboard.charts.js`,
`dashboard.i18n.js`, `dashboard.css`) draws its charts as hand-written SVG: no chart library,
nothing fetched from outside, the console's Content-Security-Policy. It reads the business
timezone and default language from `data-` attributes of its `<body>`, filled in here.
"""

from __future__ import annotations

from html import escape
from importlib import resources

from aiohttp import web

from handoff import auth
from handoff.api import COOKIE, HANDOFF
from handoff.auth import Principal
from handoff.config import HandoffConfig
from handoff.console import SECURITY_HEADERS

__all__ = ["PATH", "routes"]

PATH = "/console/dashboard"
ROLES = frozenset({"supervisor", "admin"})

FORBIDDEN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>omnirelay — 403</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/static/dashboard.css">
</head><body class="forbidden"><main>
<h1>The dashboard is for supervisors</h1>
<p lang="uk">Панель показників — лише для керівників.</p>
<p><a href="/console">Back to the console</a> · <a href="/console" lang="uk">До консолі</a></p>
</main></body></html>
"""


def routes(config: HandoffConfig) -> list[web.RouteDef]:
    """The dashboard page (its scripts and styles are in `console.ASSETS`)."""

    async def page(request: web.Request) -> web.StreamResponse:
        principal = await _session(request)
        if principal is None:
            raise web.HTTPSeeOther("/console", headers=SECURITY_HEADERS)
        if principal.role not in ROLES:
            return web.Response(
                status=403,
                text=FORBIDDEN,
                content_type="text/html",
                charset="utf-8",
                headers=SECURITY_HEADERS,
            )
        return web.Response(
            text=render(config),
            content_type="text/html",
            charset="utf-8",
            headers=SECURITY_HEADERS,
        )

    return [web.get(PATH, page)]


async def _session(request: web.Request) -> Principal | None:
    """Who holds the console session cookie (a page is opened by a browser, not a token)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    return await auth.session_principal(request.app[HANDOFF].db, cookie)


def render(config: HandoffConfig) -> str:
    """The page with the business timezone and default language filled in."""
    text = resources.files("handoff").joinpath("static", "dashboard.html").read_text("utf-8")
    return text.replace("{{timezone}}", escape(config.timezone)).replace(
        "{{language}}", escape(config.default_language)
    )
