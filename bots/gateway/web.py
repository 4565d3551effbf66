"""`GET /chat`: a small web chat over the REST channel, so a newcomer can talk to the bot.

It is also served at `GET /` when the simulator (bots/gateway/simulator.py) is off.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web


def web_routes(*, index: bool = True) -> list[web.RouteDef]:
    routes = [web.get("/chat", chat_page)]
    if index:
        routes.append(web.get("/", chat_page))
    return routes


async def chat_page(request: web.Request) -> web.Response:
    html = resources.files("bots").joinpath("static", "chat.html").read_text("utf-8")
    return web.Response(text=html, content_type="text/html", charset="utf-8")
