"""`GET /chat`: a demo page of a business's site with the web chat widget on it, so a newcomer
can talk to the bot (and to an agent after a handoff).

It is also served at `GET /` when the simulator (bots/gateway/simulator.py) is off. Without the
web chat (Redis and no `OMNIRELAY_WEBCHAT_PUBLIC_KEY`) the page says so.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from bots.keys import CHANNELS

OFF = (
    "<!doctype html><meta charset=utf-8><title>omnirelay</title><p>The web chat is off: set "
    "OMNIRELAY_WEBCHAT_PUBLIC_KEY (and OMNIRELAY_WEBCHAT_COOKIE_SECRET) to turn it on.</p>"
)


# The site's icon: browsers ask for /favicon.ico on every page that names none (the chat page,
# the simulator, a JSON address opened in a tab) and log the 404 as an error otherwise.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#1f6feb"/>'
    '<path d="M7 9h18v11H14l-5 4v-4H7z" fill="#fff"/></svg>'
)


def web_routes(*, index: bool = True) -> list[web.RouteDef]:
    routes = [web.get("/chat", chat_page), web.get("/favicon.ico", favicon)]
    if index:
        routes.append(web.get("/", chat_page))
    return routes


async def chat_page(request: web.Request) -> web.Response:
    channel = request.app[CHANNELS].get("webchat")
    key = getattr(getattr(channel, "config", None), "public_key", None)
    if not isinstance(key, str):
        return web.Response(text=OFF, content_type="text/html", charset="utf-8")
    html = resources.files("bots").joinpath("static", "chat.html").read_text("utf-8")
    html = html.replace("{{WEBCHAT_KEY}}", _attribute(key))
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def favicon(request: web.Request) -> web.Response:
    return web.Response(
        text=FAVICON,
        content_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _attribute(value: str) -> str:
    """``value`` safe inside a double-quoted HTML attribute."""
    return (
        value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )
