"""A plain JSON channel for integrations, tests and load tests: not for people.

It only answers the request that carried a message: it cannot carry an agent's reply after a
handoff, a proactive message, or anything said later (`send` fails permanently). A website's
visitors use the web chat (`bots.channels.webchat`), which pushes.

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
from bots.channels.edge import (
    MAX_LANGUAGE,
    MAX_MESSAGE_ID,
    MAX_NAME,
    MAX_PAYLOAD,
    MAX_USER_ID,
    check_event,
    decode_json,
    language,
)
from bots.channels.errors import MalformedPayload, PermanentSendError
from bots.channels.schema import IntOrStr, Obj, Str
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
        mailbox = self._mailbox()
        try:
            message = _message(decode_json(body), mailbox.node_id)
        except MalformedPayload as e:
            log.warning("rest: rejected body from %s: %s", request.remote, e)
            return json_error(400, str(e))
        message_id = message.message_id
        async with mailbox.expect(message_id) as waiter:
            result = await ingress.accept([message])
            if result.accepted == 0:
                return json_error(409, f"duplicate message_id {message_id!r}")
            answer = await waiter.get(self._timeout)
        if answer is None:
            log.warning("rest: no reply for %s within %.1fs", message_id, self._timeout)
            return json_error(504, "the message was accepted but not answered in time")
        return web.Response(body=answer, content_type="application/json")


BODY = Obj(
    {
        "sender": IntOrStr(MAX_USER_ID, required=True),
        "text": Str(MAX_TEXT),
        "payload": Str(MAX_PAYLOAD),
        "message_id": IntOrStr(MAX_MESSAGE_ID),
        "name": Str(MAX_NAME),
        "language": Str(MAX_LANGUAGE),
    }
)


def _message(doc: Any, node_id: str) -> InboundMessage:
    """The message a body asks for; `MalformedPayload` (answer 400) saying what is wrong."""
    if not isinstance(doc, dict):
        raise MalformedPayload("the body must be a JSON object")
    BODY.check(doc, "body")
    if doc.get("text") is None and doc.get("payload") is None:
        raise MalformedPayload("one of 'text' or 'payload' is required")
    if doc.get("language") is not None and language(doc["language"]) is None:
        raise MalformedPayload("'language' must be a language code such as 'en' or 'uk'")
    message = InboundMessage(
        channel="rest",
        user_id=str(doc["sender"]),
        message_id=str(doc.get("message_id") or uuid.uuid4().hex),
        timestamp=now_utc(),
        text=doc.get("text"),
        payload=doc.get("payload"),
        user_name=doc.get("name"),
        language_hint=doc.get("language"),
        reply_to=node_id,
    )
    check_event(message)
    return message


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
