"""`GET /`: a small web chat over the REST channel, so a newcomer can talk to the bot."""

from __future__ import annotations

from importlib import resources

from aiohttp import web


def web_routes() -> list[web.RouteDef]:
    return [web.get("/", index)]


async def index(request: web.Request) -> web.Response:
    html = resources.files("bots").joinpath("static", "chat.html").read_text("utf-8")
    return web.Response(text=html, content_type="text/html", charset="utf-8")
