"""A plain JSON channel for integrations, tests and load tests.

`POST /webhooks/rest` with `{"sender": "id", "text": "..."}` or `{"sender": "id", "payload": "..."}`
answers once the message is processed: `{"replies": [{"text", "buttons": [{"title", "payload"}]}]}`
(a link button has `url` instead of `payload`).
The gateway that took the request waits on the reply mailbox; the worker that processed the
message (possibly another process) delivers the replies there.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from bots.channels.base import ChannelLimits, Ingress, SendContext
from bots.channels.errors import PermanentSendError
from bots.messages import Button, InboundMessage, OutboundMessage, SentMessage, now_utc
from storage.mailbox import ReplyMailbox

log = logging.getLogger(__name__)

MAX_TEXT = 4096


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


class RestChannel:
    """The synchronous REST channel (`channel = "rest"`)."""

    name = "rest"
    limits = ChannelLimits(max_text=MAX_TEXT, max_buttons=20, max_button_title=64)

    def __init__(
        self,
        mailbox: Callable[[], ReplyMailbox],
        *,
        token: str | None,
        reply_timeout: float,
    ) -> None:
        self._mailbox = mailbox
        self._token = token
        self._timeout = reply_timeout

    def routes(self, ingress: Ingress) -> list[web.RouteDef]:
        async def handle(request: web.Request) -> web.Response:
            return await self._handle(request, ingress)

        return [web.post("/webhooks/rest", handle)]

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(
        self, recipient_id: str, message: OutboundMessage, context: SendContext
    ) -> SentMessage:
        raise PermanentSendError("the REST channel only answers requests; it cannot push")

    def _authorised(self, request: web.Request) -> bool:
        if self._token is None:
            return _is_loopback(request.remote)
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.encode(), self._token.encode()
        )

    async def _handle(self, request: web.Request, ingress: Ingress) -> web.Response:
        if not self._authorised(request):
            return json_error(401, "missing or wrong bearer token")
        body = await request.read()
        try:
            doc: Any = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            log.warning("rest: malformed JSON from %s: %s", request.remote, e)
            return json_error(400, f"malformed JSON: {e}")
        problem = _validate(doc)
        if problem:
            log.warning("rest: rejected body from %s: %s", request.remote, problem)
            return json_error(400, problem)
        message_id = str(doc.get("message_id") or uuid.uuid4().hex)
        mailbox = self._mailbox()
        message = InboundMessage(
            channel=self.name,
            user_id=str(doc["sender"]),
            message_id=message_id,
            timestamp=now_utc(),
            text=doc.get("text"),
            payload=doc.get("payload"),
            user_name=doc.get("name"),
            language_hint=doc.get("language"),
            reply_to=mailbox.node_id,
        )
        async with mailbox.expect(message_id) as waiter:
            result = await ingress.accept([message])
            if result.accepted == 0:
                return json_error(409, f"duplicate message_id {message_id!r}")
            answer = await waiter.get(self._timeout)
        if answer is None:
            log.warning("rest: no reply for %s within %.1fs", message_id, self._timeout)
            return json_error(504, "the message was accepted but not answered in time")
        return web.Response(body=answer, content_type="application/json")


def _validate(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return "the body must be a JSON object"
    sender = doc.get("sender")
    if not isinstance(sender, str | int) or isinstance(sender, bool) or str(sender) == "":
        return "'sender' (a non-empty string) is required"
    text, payload = doc.get("text"), doc.get("payload")
    if text is None and payload is None:
        return "one of 'text' or 'payload' is required"
    for field, value in (("text", text), ("payload", payload)):
        if value is not None and not isinstance(value, str):
            return f"'{field}' must be a string"
    if text is not None and len(text) > MAX_TEXT:
        return f"'text' is longer than {MAX_TEXT} characters"
    if "message_id" in doc and not isinstance(doc["message_id"], str | int):
        return "'message_id' must be a string or an integer"
    return None


def encode_replies(replies: list[OutboundMessage]) -> bytes:
    return orjson.dumps(
        {
            "replies": [
                {
                    "text": r.text,
                    "buttons": [_button(b) for b in r.buttons],
                    "request_phone": r.request_phone,
                }
                for r in replies
            ]
        }
    )


def _button(button: Button) -> dict[str, str]:
    """`{"title", "payload"}`, or `{"title", "url"}` for a link (nothing comes back for it)."""
    if button.url is not None:
        return {"title": button.title, "url": button.url}
    return {"title": button.title, "payload": button.payload}
