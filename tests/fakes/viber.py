"""A loopback imitation of Viber's REST Bot API, and builders of signed Viber callbacks.

`FakeViber` serves `POST {base_url}/{method}` on 127.0.0.1 the way chatapi.viber.com does:
always HTTP 200, `{"status": 0, "status_message": "ok", ...}` on success and a non-zero status
on failure. The auth token is taken from the `X-Viber-Auth-Token` header (the docs) or the
`auth_token` body field (what viberbot 1.0.12 sends). `set_webhook` calls the given URL with a
signed `{"event": "webhook"}` callback and fails unless that gets HTTP 200, like Viber does.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

STATUS_MESSAGES = {
    0: "ok",
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    5: "receiverNotRegistered",
    6: "receiverNotSubscribed",
    10: "webhookNotSet",
    12: "tooManyRequests",
    13: "apiVersionNotSupported",
    99: "General error",
}
MAX_REQUEST_BYTES = 30 * 1024
MAX_TEXT = 7000
# Real tokens are 64-bit and above 2**53: a float or a JS number would corrupt them.
FIRST_TOKEN = 5741311803571721087


@dataclass
class ViberCall:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int  # the `status` we answered


@dataclass
class _Failure:
    status: int
    message: str
    method: str


@dataclass
class FakeViber:
    """The fake server; use as `async with FakeViber(token) as viber: viber.base_url`."""

    auth_token: str
    calls: list[ViberCall] = field(default_factory=list)
    unsubscribed: set[str] = field(default_factory=set)  # receivers answered with status 6
    webhook_url: str | None = None
    _failures: list[_Failure] = field(default_factory=list)
    _tokens: itertools.count[int] = field(default_factory=lambda: itertools.count(FIRST_TOKEN))
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    base_url: str = ""
    # extra aiohttp middlewares, e.g. `tests.fakes.outage.Outage.middleware`
    middlewares: list[Any] = field(default_factory=list)

    async def __aenter__(self) -> FakeViber:
        app = web.Application(client_max_size=1024 * 1024, middlewares=self.middlewares)
        app.router.add_post("/pa/{method}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/pa"
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- scripting ---------------------------------------------------------------------------

    def fail_next(
        self, status: int = 12, message: str | None = None, *, method: str = "send_message"
    ) -> None:
        """Answer the next call of `method` with this non-zero status (queued, FIFO)."""
        self._failures.append(_Failure(status, message or STATUS_MESSAGES.get(status, "?"), method))

    def sent(self) -> list[dict[str, Any]]:
        """Bodies of the successful send_message calls, in order."""
        return [c.body for c in self.calls if c.method == "send_message" and c.status == 0]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        where: Callable[[ViberCall], bool] | None = None,
        within: float = 5.0,
    ) -> list[ViberCall]:
        """Poll until `count` calls of `method` (matching `where`) were recorded."""
        deadline = time.monotonic() + within
        while True:
            found = [c for c in self.calls if c.method == method and (where is None or where(c))]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)}/{count} {method} calls after {within}s")
            await asyncio.sleep(0.01)

    # ---- the API -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        headers = dict(request.headers)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._answer(method, {}, headers, 3, "badData: body is not a JSON object")
        token = request.headers.get("X-Viber-Auth-Token") or body.get("auth_token")
        if token != self.auth_token:
            return self._answer(method, body, headers, 2, "invalidAuthToken")
        if len(raw) > MAX_REQUEST_BYTES:
            return self._answer(method, body, headers, 3, "badData: request over 30 KB")
        for i, failure in enumerate(self._failures):
            if failure.method == method:
                del self._failures[i]
                return self._answer(method, body, headers, failure.status, failure.message)
        if method == "send_message":
            return self._send_message(body, headers)
        if method == "set_webhook":
            return await self._set_webhook(body, headers)
        if method == "get_account_info":
            return self._answer(method, body, headers, 0, "ok", {"id": "pa:1", "name": "Fake"})
        return self._answer(method, body, headers, 3, f"badData: unknown method {method}")

    def _answer(
        self,
        method: str,
        body: dict[str, Any],
        headers: dict[str, str],
        status: int,
        message: str,
        extra: dict[str, Any] | None = None,
    ) -> web.Response:
        self.calls.append(ViberCall(method, body, headers, status))
        doc: dict[str, Any] = {"status": status, "status_message": message}
        if status == 0:
            doc.update(extra or {})
        return web.json_response(doc)  # Viber answers 200 even on failure

    def _send_message(self, body: dict[str, Any], headers: dict[str, str]) -> web.Response:
        problem, status = _check_message(body)
        if problem:
            return self._answer("send_message", body, headers, status, problem)
        if body["receiver"] in self.unsubscribed:
            return self._answer("send_message", body, headers, 6, "receiverNotSubscribed")
        token = next(self._tokens)
        extra = {"message_token": token, "chat_hostname": "SN-CHAT-05_"}
        return self._answer("send_message", body, headers, 0, "ok", extra)

    async def _set_webhook(self, body: dict[str, Any], headers: dict[str, str]) -> web.Response:
        url = body.get("url")
        if not isinstance(url, str):
            return self._answer("set_webhook", body, headers, 4, "missingData: url")
        if url == "":
            self.webhook_url = None
            return self._answer("set_webhook", body, headers, 0, "ok")
        doc = {
            "event": "webhook",
            "timestamp": int(time.time() * 1000),
            "chat_hostname": "SN-CHAT-05_",
            "message_token": next(self._tokens),
        }
        signed = sign_callback(self.auth_token, doc)
        assert self._session is not None
        try:
            async with self._session.post(
                url + signed.query, data=signed.body, headers=signed.headers
            ) as response:
                ok = response.status == 200
        except aiohttp.ClientError:
            ok = False
        if not ok:
            return self._answer("set_webhook", body, headers, 1, "invalidUrl")
        self.webhook_url = url
        events = body.get("event_types") or [
            "delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started",
        ]  # fmt: skip
        for always in ("message", "subscribed", "unsubscribed"):
            if always != "message" and always not in events:
                events = [*events, always]
        return self._answer("set_webhook", body, headers, 0, "ok", {"event_types": events})


def _check_message(body: dict[str, Any]) -> tuple[str | None, int]:
    if not body.get("receiver"):
        return "missingData: receiver", 4
    sender = body.get("sender")
    if not isinstance(sender, dict) or not sender.get("name"):
        return "missingData: sender.name", 4
    if len(sender["name"]) > 28:
        return "badData: sender.name over 28 characters", 3
    kind = body.get("type")
    if kind == "text":
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return "missingData: text", 4
        if len(text) > MAX_TEXT:
            return "badData: text over 7000 characters", 3
    elif kind in ("picture", "url", "video", "file"):
        if not body.get("media"):
            return "missingData: media", 4
    elif kind == "location":
        if not isinstance(body.get("location"), dict):
            return "missingData: location", 4
    else:
        return f"badData: type {kind!r}", 3
    tracking = body.get("tracking_data")
    if tracking is not None and (not isinstance(tracking, str) or len(tracking) > 4000):
        return "badData: tracking_data must be a string of at most 4000 characters", 3
    keyboard = body.get("keyboard")
    if keyboard is not None:
        return _check_keyboard(keyboard, body.get("min_api_version", 1))
    return None, 0


def _check_keyboard(keyboard: Any, min_api_version: Any) -> tuple[str | None, int]:
    if not isinstance(keyboard, dict) or keyboard.get("Type") != "keyboard":
        return "badData: keyboard.Type must be 'keyboard'", 3
    buttons = keyboard.get("Buttons")
    if not isinstance(buttons, list) or not buttons:
        return "missingData: keyboard.Buttons", 4
    width = 0
    rows = 0
    for b in buttons:
        columns, height = b.get("Columns", 6), b.get("Rows", 1)
        if not 1 <= columns <= 6 or not 1 <= height <= 2:
            return "badData: Columns 1-6, Rows 1-2", 3
        if b.get("ActionType") not in (
            "reply",
            "open-url",
            "location-picker",
            "share-phone",
            "none",
        ):
            return f"badData: ActionType {b.get('ActionType')!r}", 3
        if b.get("ActionType") == "share-phone" and int(min_api_version or 1) < 3:
            return "badData: share-phone needs min_api_version 3", 3
        if width + columns > 6:
            rows += 1
            width = 0
        width += columns
    rows += 1
    if rows > 12:
        return f"badData: {rows} keyboard rows (12 at most)", 3
    return None, 0


# ---- callbacks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedCallback:
    body: bytes
    headers: dict[str, str]
    query: str  # "?sig=..." as Viber also appends it

    def doc(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


def signature(auth_token: str, body: bytes) -> str:
    return hmac.new(auth_token.encode(), body, hashlib.sha256).hexdigest()


def sign_callback(auth_token: str, doc: dict[str, Any]) -> SignedCallback:
    """Serialise a callback as Viber does (compact UTF-8 JSON) and sign it two ways."""
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    sig = signature(auth_token, body)
    return SignedCallback(
        body=body,
        headers={"X-Viber-Content-Signature": sig, "Content-Type": "application/json"},
        query=f"?sig={quote(sig)}",
    )


def user(
    user_id: str = "01234567890A+/=", name: str = "Олена", language: str = "uk"
) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": name,
        "avatar": "https://media-direct.cdn.viber.com/download_photo?dlid=abc",
        "country": "UA",
        "language": language,
        "api_version": 10,
    }


_tokens = itertools.count(4912661846655238145)


def _base(event: str, token: int | None = None) -> dict[str, Any]:
    return {
        "event": event,
        "timestamp": 1732280000000,
        "chat_hostname": "SN-376_",
        "message_token": next(_tokens) if token is None else token,
    }


def message(
    content: dict[str, Any],
    *,
    sender: dict[str, Any] | None = None,
    token: int | None = None,
) -> dict[str, Any]:
    """A `message` callback; `content` is the `message` object (`type`, `text`, ...)."""
    doc = _base("message", token)
    doc.update({"sender": sender or user(), "message": content, "silent": False})
    return doc


def text_message(text: str, **kw: Any) -> dict[str, Any]:
    tracking = kw.pop("tracking_data", None)
    content: dict[str, Any] = {"type": "text", "text": text}
    if tracking is not None:
        content["tracking_data"] = tracking
    return message(content, **kw)


def conversation_started(context: str | None = None, **kw: Any) -> dict[str, Any]:
    doc = _base("conversation_started", kw.get("token"))
    doc.update({"type": "open", "user": kw.get("user") or user(), "subscribed": False})
    if context is not None:
        doc["context"] = context
    return doc


def subscribed(**kw: Any) -> dict[str, Any]:
    doc = _base("subscribed", kw.get("token"))
    doc["user"] = kw.get("user") or user()
    return doc


def unsubscribed(user_id: str = "01234567890A+/=", **kw: Any) -> dict[str, Any]:
    doc = _base("unsubscribed", kw.get("token"))
    doc["user_id"] = user_id
    return doc


def receipt(
    event: str, token: int, user_id: str = "01234567890A+/=", desc: str | None = None
) -> dict[str, Any]:
    """A `delivered`, `seen` or `failed` callback about message `token`."""
    doc = _base(event, token)
    doc["user_id"] = user_id
    if event == "failed":
        doc["desc"] = desc or "failure description"
    return doc


def webhook() -> dict[str, Any]:
    return _base("webhook")
