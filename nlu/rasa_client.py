"""``NluModel`` backed by a Rasa server's ``POST /model/parse`` (``OMNIRELAY_NLU_BACKEND=rasa``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp

from nlu.errors import NluUnavailable
from nlu.lang import detect_language
from nlu.normalise import normalise_text
from nlu.types import Entity, IntentScore, ParseResult


class RasaHttpModel:
    """Asks a Rasa 3.x server. Network errors, timeouts and bad answers raise ``NluUnavailable``.

    Pass your own ``session`` to share a connection pool; otherwise one is created on first use
    and closed by ``close()`` (or ``async with``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        token: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._token = token
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> RasaHttpModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def info(self) -> dict[str, Any]:
        """Where the model lives."""
        return {"backend": "rasa", "url": self.base_url}

    async def parse(
        self,
        text: str,
        *,
        language: str | None = None,
        now: datetime | None = None,
        tz: str | None = None,
    ) -> ParseResult:
        """POST the text (normalised, `nlu.normalise`) to ``{base}/model/parse`` and map Rasa's
        answer to a ``ParseResult``."""
        text = normalise_text(text)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        params = {"token": self._token} if self._token else None
        url = f"{self.base_url}/model/parse"
        try:
            async with self._session.post(
                url, json={"text": text}, params=params, timeout=self.timeout
            ) as resp:
                if resp.status != 200:
                    body = (await resp.text())[:200]
                    raise NluUnavailable(f"Rasa answered {resp.status} at {url}: {body}")
                data = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            raise NluUnavailable(f"Rasa server at {url} unavailable: {e!r}") from e
        try:
            return _to_result(text, data, detect_language(text, default=language or "en"))
        except (KeyError, TypeError, ValueError) as e:
            raise NluUnavailable(f"unexpected answer from Rasa at {url}: {e!r}") from e


def _to_result(text: str, data: dict[str, Any], lang: str) -> ParseResult:
    intent = data.get("intent") or {}
    ranking = [
        IntentScore(str(r["name"]), float(r["confidence"]))
        for r in data.get("intent_ranking") or []
    ]
    entities = [
        Entity(
            entity=str(e["entity"]),
            value=e.get("value"),
            start=e.get("start"),
            end=e.get("end"),
            text=text[e["start"] : e["end"]]
            if "start" in e and "end" in e
            else str(e.get("value")),
            extractor=str(e.get("extractor", "rasa")),
            role=e.get("role"),
            group=e.get("group"),
            confidence=e.get("confidence_entity"),
        )
        for e in data.get("entities") or []
    ]
    name = str(intent.get("name") or "nlu_fallback")
    return ParseResult(
        text=text,
        intent=name,
        confidence=float(intent.get("confidence") or 0.0),
        ranking=ranking,
        entities=entities,
        language=lang,
    )
