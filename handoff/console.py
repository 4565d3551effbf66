"""`GET /console`: the agent console, one static page over the agent JSON API.

The page (`handoff/static/console.html`, `console.js`, `ticket.js`, `conversations.js`,
`console.css`; its texts in `console.i18n.js`, the language choice shared with the dashboard in
`i18n.js`) is plain HTML and vanilla JavaScript with no build step and nothing fetched from
outside: it logs in through `POST /console/login`, then reads `/api/me`, `/api/tickets`,
`/api/conversations`, `/api/events` and friends. Canned
replies come from `handoff/canned.yml`, by language, through `GET /console/canned`.

Every response carries a strict Content-Security-Policy: scripts and styles only from this
origin, no inline script, no framing. The page itself never puts customer text into HTML
(it builds DOM nodes and sets `textContent`), and the policy is the second line of defence.

The interface speaks English and Ukrainian: `?lang=`, else the agent's last choice, else the
browser's languages, else the business default, which the page reads from its `<body
data-language>` (`OMNIRELAY_DEFAULT_LANGUAGE`), filled in here as the dashboard's is.
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources
from typing import Any

import yaml
from aiohttp import web

from handoff.config import HandoffConfig
from storage.errors import OmnirelayError

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

# The only files served from handoff/static/, with their content types.
ASSETS = {
    "i18n.js": "application/javascript",  # the language choice of every console page
    "console.i18n.js": "application/javascript",
    "console.js": "application/javascript",
    "ticket.js": "application/javascript",
    "conversations.js": "application/javascript",
    "console.css": "text/css",
    # the supervisors' dashboard (handoff/dashboard.py)
    "dashboard.js": "application/javascript",
    "dashboard.charts.js": "application/javascript",
    "dashboard.i18n.js": "application/javascript",
    "dashboard.css": "text/css",
    # the admins' audit log page (handoff/audit_api.py)
    "audit.js": "application/javascript",
    "audit.i18n.js": "application/javascript",
    "audit.css": "text/css",
}


class CannedRepliesError(OmnirelayError, ValueError):
    """`handoff/canned.yml` is not a mapping of language to a list of {title, text}."""


def routes(config: HandoffConfig) -> list[web.RouteDef]:
    """The console's routes: the page, its assets and the canned replies."""

    async def page(request: web.Request) -> web.Response:
        """The console page; who is logged in is asked by the page itself (`GET /api/me`)."""
        return web.Response(
            text=with_language(static_text("console.html"), config),
            content_type="text/html",
            charset="utf-8",
            headers=SECURITY_HEADERS,
        )

    return [
        web.get("/console", page),
        web.get("/console/static/{name}", asset),
        web.get("/console/canned", canned),
    ]


def static_text(name: str) -> str:
    """A file of `handoff/static/` as text."""
    return resources.files("handoff").joinpath("static", name).read_text("utf-8")


def with_language(page_text: str, config: HandoffConfig) -> str:
    """A page of `handoff/static/` with the business default language filled in."""
    return page_text.replace("{{language}}", escape(config.default_language))


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content_type = ASSETS.get(name)
    if content_type is None:
        raise web.HTTPNotFound(text=f"no console asset {name!r}")
    return web.Response(
        text=static_text(name), content_type=content_type, charset="utf-8", headers=SECURITY_HEADERS
    )


async def canned(request: web.Request) -> web.Response:
    """`{"uk": [{"title", "text"}, ...], "en": [...]}`: the reply box's canned replies."""
    return web.json_response(canned_replies(), headers=SECURITY_HEADERS)


@cache
def canned_replies() -> dict[str, list[dict[str, str]]]:
    """Canned replies by language, read once from `handoff/canned.yml` and checked."""
    text = resources.files("handoff").joinpath("canned.yml").read_text("utf-8")
    return parse_canned(yaml.safe_load(text))


def parse_canned(data: Any) -> dict[str, list[dict[str, str]]]:
    """Check the shape of the canned-replies document; raise `CannedRepliesError` naming the
    offending entry rather than serving a page that breaks on it."""
    if not isinstance(data, dict):
        raise CannedRepliesError("canned.yml must map a language code to a list of replies")
    result: dict[str, list[dict[str, str]]] = {}
    for language, entries in data.items():
        if not isinstance(language, str) or not isinstance(entries, list):
            raise CannedRepliesError(f"canned.yml: {language!r} must hold a list of replies")
        replies: list[dict[str, str]] = []
        for index, entry in enumerate(entries):
            if (
                not isinstance(entry, dict)
                or set(entry) != {"title", "text"}
                or not all(isinstance(v, str) and v.strip() for v in entry.values())
            ):
                raise CannedRepliesError(
                    f"canned.yml: {language}[{index}] must have a non-empty title and text"
                )
            replies.append({"title": entry["title"], "text": entry["text"]})
        result[language] = replies
    return result
