"""The web chat's HTTP side: the widget's files, the visitor's session, messages in, receipts
and the live event stream out.

| route | what |
| --- | --- |
| `GET /webchat/widget.js`, `/webchat/widget.css` | the widget (no build step) |
| `POST /webchat/session` | `{"key", "user_id"?, "user_hash"?}` -> sets the visitor cookie |
| `POST /webchat/messages` | `{"key", "id", "text" or "payload" (+ "title") or "phone"}` -> 202 |
| `POST /webchat/seen` | `{"key", "id"}`: the visitor saw the message of that event |
| `GET /webchat/events?key=` | server-sent events after `Last-Event-ID` (or `?after=`) |

Every call names the business's public key; the POSTs must come from this host or an allowed
origin (`OMNIRELAY_WEBCHAT_ALLOWED_ORIGINS`, CORS with credentials), anything else is 403.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any, Protocol

import orjson
from aiohttp import web

from bots.channels.base import Ingress
from bots.channels.edge import MAX_PAYLOAD, MAX_PHONE, check_event, decode_json
from bots.channels.errors import MalformedPayload
from bots.channels.schema import Obj, Str
from bots.channels.webchat_auth import (
    Signer,
    WebchatConfig,
    allowed_origin,
    new_visitor,
    verified_customer,
    verified_phone,
)
from bots.channels.webchat_log import VisitorLog
from bots.messages import ChannelEvent, EventKind, InboundMessage, now_utc

__all__ = ["webchat_routes"]

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024  # a visitor's message (8,192 characters at most) with room to spare
MAX_TEXT = 4_096
KEEPALIVE = 15.0  # seconds between comments on a quiet stream (proxies close idle ones)
ASSETS = {"widget.js": "application/javascript", "widget.css": "text/css"}

MESSAGE = Obj(
    {
        "key": Str(200, required=True),
        "id": Str(40, required=True),
        "text": Str(MAX_TEXT),
        "payload": Str(MAX_PAYLOAD),
        "title": Str(200),
        "phone": Str(MAX_PHONE),
        "language": Str(16),
        "name": Str(200),
    }
)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class WebchatSide(Protocol):
    """What the routes need of the channel (`bots.channels.webchat.WebchatChannel`)."""

    config: WebchatConfig
    signer: Signer

    @property
    def log(self) -> VisitorLog: ...

    async def link_phone(self, visitor: str, phone: str) -> str: ...


class WebchatApi:
    def __init__(self, channel: WebchatSide, ingress: Ingress) -> None:
        self.channel = channel
        self.config = channel.config
        self.ingress = ingress

    # ---- checks --------------------------------------------------------------------------------

    def cors(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if origin is None:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }

    def refused(self, request: web.Request, key: object, *, post: bool) -> web.Response | None:
        """403 for a foreign origin or an unknown key, else None."""
        if not allowed_origin(request, self.config.allowed_origins, required=post):
            log.warning("webchat: origin %r refused", request.headers.get("Origin"))
            return _error(403, "this origin may not use the web chat")
        if key != self.config.public_key:
            return _error(403, "unknown web chat key", self.cors(request))
        return None

    async def body(self, request: web.Request) -> Any:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(
                max_size=MAX_BODY, actual_size=request.content_length
            )
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(raw))
        doc = decode_json(raw)
        if not isinstance(doc, dict):
            raise MalformedPayload("the body must be a JSON object")
        return doc

    # ---- routes --------------------------------------------------------------------------------

    async def preflight(self, request: web.Request) -> web.Response:
        if not allowed_origin(request, self.config.allowed_origins, required=True):
            return _error(403, "this origin may not use the web chat")
        headers = {
            **self.cors(request),
            "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
        }
        return web.Response(status=204, headers=headers)

    async def session(self, request: web.Request) -> web.Response:
        try:
            doc = await self.body(request)
        except MalformedPayload as e:
            return _error(400, str(e), self.cors(request))
        refused = self.refused(request, doc.get("key"), post=True)
        if refused is not None:
            return refused
        before = self.channel.signer.visitor(request)
        try:
            visitor, phone = self._who(doc, before)
        except PermissionError as e:
            return _error(403, str(e), self.cors(request))
        answer: dict[str, Any] = {
            "identified": visitor.startswith("u:"),
            "language": self.config.default_language,
            "continue_in": list(self.config.continue_in),
        }
        if phone is not None and visitor != before:  # once per browser, not on every page
            answer["link"] = await self.channel.link_phone(visitor, phone)
        response = web.json_response(answer, headers=self.cors(request))
        self.channel.signer.set(response, visitor)
        return response

    def _who(self, doc: dict[str, Any], before: str | None) -> tuple[str, str | None]:
        """The visitor a session is for, and the phone the business's site vouches for;
        `PermissionError` for a signature that does not match."""
        secret = self.config.identity_secret
        if doc.get("user_id") is None:
            if before is None or before.startswith("u:"):
                return new_visitor(), None  # signed out on this browser: someone new
            return before, None
        known = verified_customer(secret, doc.get("user_id"), doc.get("user_hash"))
        if known is None:
            raise PermissionError("the customer's signature does not match")
        if doc.get("user_phone") is None:
            return known, None
        phone = verified_phone(secret, doc.get("user_phone"), doc.get("phone_hash"))
        if phone is None:
            raise PermissionError("the phone's signature does not match")
        return known, phone

    async def message(self, request: web.Request) -> web.Response:
        cors = self.cors(request)
        try:
            doc = await self.body(request)
            MESSAGE.check(doc, "body")
        except MalformedPayload as e:
            return _error(400, str(e), cors)
        refused = self.refused(request, doc.get("key"), post=True)
        if refused is not None:
            return refused
        visitor = self.channel.signer.visitor(request)
        if visitor is None:
            return _error(401, "no web chat session: POST /webchat/session first", cors)
        try:
            message = _inbound(visitor, doc)
        except MalformedPayload as e:
            return _error(400, str(e), cors)
        shown = doc.get("text") or doc.get("title") or doc.get("phone") or doc.get("payload")
        echo = {"kind": "visitor", "text": shown, "mid": doc["id"]}
        # in the log before the worker can answer it: the answer never overtakes the question
        event_id = await self.channel.log.append(visitor, echo)
        try:
            result = await self.ingress.accept([message])
        except BaseException:  # not stored (503 and the like): the page shows it as not sent
            await self._not_sent(visitor, doc["id"])
            raise
        if result.accepted:
            status = "accepted"
        elif result.duplicates:
            status = "duplicate"
        else:  # over the visitor's limit: dropped, and told so once (bots.gateway.limits)
            status = "limited"
            await self._not_sent(visitor, doc["id"])
        return web.json_response({"id": event_id, "status": status}, status=202, headers=cors)

    async def _not_sent(self, visitor: str, mid: str) -> None:
        try:
            await self.channel.log.append(visitor, {"kind": "not_sent", "mid": mid})
        except Exception:  # the log is down too: the widget's own error shows it
            log.warning("webchat: could not mark a message of %s as not sent", visitor[:6])

    async def seen(self, request: web.Request) -> web.Response:
        cors = self.cors(request)
        try:
            doc = await self.body(request)
        except MalformedPayload as e:
            return _error(400, str(e), cors)
        refused = self.refused(request, doc.get("key"), post=True)
        if refused is not None:
            return refused
        visitor = self.channel.signer.visitor(request)
        event_id = doc.get("id")
        if visitor is None:
            return _error(401, "no web chat session", cors)
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 40:
            return _error(400, "'id' must be an event id", cors)
        message_id = f"{visitor}/{event_id}"
        receipt = ChannelEvent(
            channel="webchat",
            user_id=visitor,
            kind=EventKind.SEEN,
            event_id=f"seen:{message_id}",
            timestamp=now_utc(),
            message_id=message_id,
        )
        check_event(receipt)
        await self.ingress.accept([receipt])
        return web.json_response({"ok": True}, status=202, headers=cors)

    async def events(self, request: web.Request) -> web.StreamResponse:
        refused = self.refused(request, request.query.get("key"), post=False)
        if refused is not None:
            return refused
        visitor = self.channel.signer.visitor(request)
        if visitor is None:
            return _error(401, "no web chat session", self.cors(request))
        after = request.headers.get("Last-Event-ID") or request.query.get("after") or None
        response = web.StreamResponse(
            headers={
                **self.cors(request),
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        while True:
            batch = await self.channel.log.read(visitor, after, KEEPALIVE)
            if not batch:
                await response.write(b": keep-alive\n\n")
                continue
            for event_id, event in batch:
                kind = event.get("kind", "message")
                frame = f"id: {event_id}\nevent: {kind}\ndata: ".encode()
                await response.write(frame + orjson.dumps(event) + b"\n\n")
                after = event_id

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        text = resources.files("bots").joinpath("static", name).read_text("utf-8")
        headers = {"Cache-Control": "public, max-age=300"}
        return web.Response(text=text, content_type=ASSETS[name], charset="utf-8", headers=headers)


def _inbound(visitor: str, doc: dict[str, Any]) -> InboundMessage:
    text, payload, phone = doc.get("text"), doc.get("payload"), doc.get("phone")
    if sum(v is not None for v in (text, payload, phone)) != 1:
        raise MalformedPayload("exactly one of 'text', 'payload' or 'phone' is required")
    if text is not None and not text.strip():
        raise MalformedPayload("'text' is empty")
    language = doc.get("language")
    message = InboundMessage(
        channel="webchat",
        user_id=visitor,
        message_id=f"{visitor}/{doc['id']}",
        timestamp=now_utc(),
        # a tap's title is its text, as Telegram, Viber and Instagram report a tap: the
        # transcript shows what the visitor saw ("continue in a messenger"), not the payload
        text=(doc.get("title") or None) if payload is not None else text,
        payload=payload,
        contact_phone=phone,
        user_name=doc.get("name"),
        language_hint=language if language in ("uk", "en") else None,
    )
    check_event(message)
    return message


def webchat_routes(channel: WebchatSide, ingress: Ingress) -> list[web.RouteDef]:
    api = WebchatApi(channel, ingress)
    return [
        web.get("/webchat/{name:widget\\.(?:js|css)}", api.asset),
        web.post("/webchat/session", api.session),
        web.post("/webchat/messages", api.message),
        web.post("/webchat/seen", api.seen),
        web.get("/webchat/events", api.events),
        web.options("/webchat/{path:session|messages|seen}", api.preflight),
    ]
