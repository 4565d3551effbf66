"""`GET /api/openapi.json`: the OpenAPI 3 document of the agent, admin and events APIs
(``handoff/openapi.yaml``), served as JSON. ``tests/fuzz/test_openapi.py`` keeps it true: every
``/api/`` route of the application is in it and the other way round, and requests generated from
it are answered with the statuses and bodies it describes."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml
from aiohttp import web

__all__ = ["PATH", "document", "routes"]

PATH = "/api/openapi.json"


@functools.cache
def document() -> dict[str, Any]:
    text = resources.files("handoff").joinpath("openapi.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


def routes() -> list[web.RouteDef]:
    return [web.get(PATH, serve)]


async def serve(request: web.Request) -> web.Response:
    return web.json_response(document(), headers={"Cache-Control": "public, max-age=300"})
