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


def web_routes(*, index: bool = True) -> list[web.RouteDef]:
    routes = [web.get("/chat", chat_page)]
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


def _attribute(value: str) -> str:
    """``value`` safe inside a double-quoted HTML attribute."""
    return (
        value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )
