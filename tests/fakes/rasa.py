"""A loopback stand-in for a Rasa 3.x server's ``POST /model/parse``.

It answers with the same JSON shape Rasa 3.6 does (intent, entities with ``confidence_entity`` and
``extractor``, ``intent_ranking``, ``text_tokens``, ``response_selector``), choosing the intent by
keyword. ``mode`` switches failure behaviour: ``"ok"``, ``"error"`` (HTTP 500 like a Rasa server
without a loaded model), ``"garbage"`` (200 with a non-JSON body), ``"hang"`` (never answers until
closed, to exercise client timeouts).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

_KEYWORDS = {
    "greet": ("hello", "hi", "привіт"),
    "check_order_status": ("order", "замовлення"),
    "goodbye": ("bye", "бувай"),
}


def rasa_answer(text: str) -> dict[str, Any]:
    """What Rasa 3.x returns for ``text`` (keyword intent, order numbers as DIET entities)."""
    low = text.lower()
    intent = next(
        (name for name, words in _KEYWORDS.items() if any(w in low for w in words)),
        "nlu_fallback",
    )
    conf = 0.93 if intent != "nlu_fallback" else 0.3
    others = [n for n in _KEYWORDS if n != intent]
    ranking = [{"name": intent, "confidence": conf}] + [
        {"name": n, "confidence": (1 - conf) / len(others)} for n in others
    ]
    entities = [
        {
            "entity": "order_number",
            "start": m.start(),
            "end": m.end(),
            "confidence_entity": 0.99,
            "value": m.group(),
            "extractor": "DIETClassifier",
        }
        for m in re.finditer(r"[A-Z]\d{4}", text)
    ]
    return {
        "text": text,
        "intent": {"name": intent, "confidence": conf},
        "entities": entities,
        "text_tokens": [[m.start(), m.end()] for m in re.finditer(r"\w+", text)],
        "intent_ranking": ranking,
        "response_selector": {"all_retrieval_intents": [], "default": {"response": {}}},
    }


class FakeRasa:
    """Run with ``async with FakeRasa() as rasa:`` and point a client at ``rasa.url``."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    async def _parse(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"body": body, "query": dict(request.query)})
        if self.mode == "error":
            return web.json_response(
                {"version": "3.6.20", "status": "failure", "message": "No model loaded",
                 "reason": "ModelNotReady", "code": 409},
                status=409,
            )  # fmt: skip
        if self.mode == "garbage":
            return web.Response(text="<html>bad gateway</html>", content_type="text/html")
        if self.mode == "hang":
            await self._release.wait()
        return web.json_response(rasa_answer(str(body.get("text", ""))))

    def release(self) -> None:
        """Answer the requests that "hang" mode is holding."""
        self._release.set()

    async def __aenter__(self) -> FakeRasa:
        app = web.Application()
        app.router.add_post("/model/parse", self._parse)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
