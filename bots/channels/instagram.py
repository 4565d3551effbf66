"""Instagram Direct channel: `GET|POST /webhooks/instagram` in, the Send API out.

The webhook checks `X-Hub-Signature-256` (HMAC-SHA256 of the exact received bytes keyed by the
app secret; Meta escapes non-ASCII as lowercase `\\u00e4` before signing, so the bytes are hashed
as they arrived, never re-serialised). Sending uses the Instagram Login flavour of the Send API:
`POST {api_base}/{account_id}/messages` with the token in an `Authorization: Bearer` header.

The 24-hour messaging window is enforced before any call: the bot may answer within 24 h of
the customer's last message; a human agent may answer within 7 days with the `HUMAN_AGENT` tag.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from bots.channels.base import (
    ChannelLimits,
    Ingress,
    SendContext,
    fit_buttons,
    listed,
    split_text,
)
from bots.channels.edge import decode_json
from bots.channels.errors import (
    MalformedPayload,
    OutsideMessagingWindow,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    SignatureError,
    TransientSendError,
)
from bots.channels.instagram_parse import parse_body
from bots.messages import (
    Attachment,
    Button,
    InboundEvent,
    OutboundMessage,
    SentMessage,
    now_utc,
)

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://graph.instagram.com/v21.0"
WEBHOOK_PATH = "/webhooks/instagram"
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
MAX_TEXT_BYTES = 1000  # [R] "1000 bytes": splitting by bytes is safe whichever it is
WINDOW_SUBCODES = {2018278, 2534022}  # graph.facebook.com / graph.instagram.com wording
RATE_LIMIT_CODES = {4, 17, 32, 613}
UNREACHABLE_CODES = {551}
UNREACHABLE_SUBCODES = {2018001}
TRANSIENT_CODES = {1, 2}  # "unknown error", "service temporarily unavailable"
MAX_TEMPLATE_BUTTONS = 3  # button template
MAX_TEMPLATE_TEXT = 640  # characters of a button template's text
WEB_SCHEMES = ("https://", "http://")  # what a web_url button may open


def hub_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class InstagramChannel:
    """The Instagram Messaging channel (`channel = "instagram"`)."""

    name = "instagram"
    limits = ChannelLimits(
        max_text=1000,
        max_buttons=13,  # quick replies
        max_button_title=20,
        max_payload_bytes=1000,
        per_chat_rate=None,  # Meta throttles busy threads but publishes no figure
        global_rate=300.0,  # Send API, text per professional account
    )

    def __init__(
        self,
        *,
        app_secret: str,
        verify_token: str,
        access_token: str,
        account_id: str,
        api_base: str = DEFAULT_API_BASE,
        request_timeout: float = 10.0,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._app_secret = app_secret
        self._verify_token = verify_token
        self._access_token = access_token
        self._account_id = account_id
        self._api_base = api_base.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    def routes(self, ingress: Ingress) -> list[web.RouteDef]:
        async def handle(request: web.Request) -> web.Response:
            return await self._handle(request, ingress)

        return [web.get(WEBHOOK_PATH, self._verify_subscription), web.post(WEBHOOK_PATH, handle)]

    async def start(self) -> None:
        """Open the HTTP client. Webhooks are subscribed in the Meta app dashboard."""
        self._client()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- webhook -----------------------------------------------------------------------------

    async def _verify_subscription(self, request: web.Request) -> web.Response:
        mode = request.query.get("hub.mode", "")
        token = request.query.get("hub.verify_token", "")
        challenge = request.query.get("hub.challenge", "")
        if mode == "subscribe" and hmac.compare_digest(token.encode(), self._verify_token.encode()):
            return web.Response(text=challenge)
        log.warning("instagram: refused a subscription check from %s", request.remote)
        return web.json_response({"error": "verification failed"}, status=403)

    async def _handle(self, request: web.Request, ingress: Ingress) -> web.Response:
        body = await request.read()
        try:
            self.verify(body, request.headers.get("X-Hub-Signature-256"))
        except SignatureError as e:
            log.warning("instagram: rejected webhook from %s: %s", request.remote, e)
            return web.json_response({"error": str(e)}, status=403)
        try:
            events = self.parse(body)
        except MalformedPayload as e:
            log.warning("instagram: malformed webhook from %s: %s", request.remote, e)
            return web.json_response({"error": str(e)}, status=400)
        if events:
            await ingress.accept(events)
        return web.Response(text="EVENT_RECEIVED")

    def verify(self, body: bytes, header: str | None) -> None:
        """Raise `SignatureError` unless `header` is `sha256=<hex>` over these exact bytes."""
        if not header:
            raise SignatureError("missing X-Hub-Signature-256")
        expected = hub_signature(self._app_secret, body)
        if not hmac.compare_digest(header.strip().lower().encode(), expected.encode()):
            raise SignatureError("X-Hub-Signature-256 does not match")

    def parse(self, body: bytes) -> list[InboundEvent]:
        """The events of a verified body; `MalformedPayload` if it can never be valid."""
        return parse_body(decode_json(body))

    # ---- sending -----------------------------------------------------------------------------

    async def send(
        self, recipient_id: str, message: OutboundMessage, context: SendContext
    ) -> SentMessage:
        """Send within the messaging window; the last part's `message_id` is returned."""
        envelope = self.messaging_envelope(message, context)
        last_id: str | None = None
        parts = self.render(message)
        for part in parts:
            body = {"recipient": {"id": recipient_id}, **envelope, "message": part}
            answer = await self._post(body)
            last_id = str(answer["message_id"]) if answer.get("message_id") else None
        return SentMessage(platform_message_id=last_id, parts=len(parts))

    def messaging_envelope(self, message: OutboundMessage, context: SendContext) -> dict[str, str]:
        """`messaging_type` (and `tag`) for this send, or `OutsideMessagingWindow`.

        With no known last inbound message the platform is left to decide.
        """
        if context.last_inbound_at is None:
            return {"messaging_type": "RESPONSE"}
        last = context.last_inbound_at
        if last.tzinfo is None:
            last = last.replace(tzinfo=UTC)  # naive values from storage are UTC
        age = self._clock() - last
        if age <= STANDARD_WINDOW:
            return {"messaging_type": "RESPONSE"}
        agent = context.sender == "agent" or message.sender == "agent"
        if agent and age <= HUMAN_AGENT_WINDOW:
            return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        limit = "7 days (human agent)" if agent else "24 hours"
        raise OutsideMessagingWindow(
            f"instagram: last customer message {age} ago; the window is {limit}"
        )

    def render(self, message: OutboundMessage) -> list[dict[str, Any]]:
        """`message` objects of the Send API: attachment first, text split, quick replies last.

        Quick replies cannot open an address, so a message with link buttons ends in a button
        template instead (see `render_with_links`)."""
        parts: list[dict[str, Any]] = []
        if message.attachment is not None:
            attachment = _render_attachment(message.attachment)
            if attachment is not None:
                parts.append(attachment)
        text, buttons = fit_buttons(message.text, message.buttons, self.limits)
        if any(b.url is not None for b in buttons):
            return parts + render_with_links(text, buttons)
        if text.strip():
            parts.extend(
                {"text": chunk}
                for chunk in split_by_bytes(text, self.limits.max_text, MAX_TEXT_BYTES)
            )
        if buttons:
            if not parts or "text" not in parts[-1]:
                parts.append({"text": text.strip() or "…"})
            parts[-1]["quick_replies"] = [
                {"content_type": "text", "title": b.title, "payload": b.payload} for b in buttons
            ]
        if not parts:
            parts.append({"text": "…"})
        return parts

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self._api_base}/{self._account_id}/messages"
        headers = {"Authorization": f"Bearer {self._access_token}"}
        try:
            async with self._client().post(url, json=body, headers=headers) as response:
                status = response.status
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransientSendError(f"instagram send: {e!r}") from e
        try:
            answer = json.loads(text)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            if status >= 500 or status == 200:
                raise TransientSendError(f"instagram send: HTTP {status}: {text[:200]!r}")
            raise PermanentSendError(f"instagram send: HTTP {status}: {text[:200]!r}")
        if status == 200 and "error" not in answer:
            return answer
        raise graph_error(status, answer)


def graph_error(status: int, answer: dict[str, Any]) -> Exception:
    """The typed error for a Graph API error answer."""
    error: dict[str, Any] = answer["error"] if isinstance(answer.get("error"), dict) else {}
    code, subcode = error.get("code"), error.get("error_subcode")
    text = (
        f"instagram send: HTTP {status} code {code} subcode {subcode}: "
        f"{error.get('message')!r} (fbtrace_id {error.get('fbtrace_id')})"
    )
    if code == 10 and subcode in WINDOW_SUBCODES:
        return OutsideMessagingWindow(text)
    if code in RATE_LIMIT_CODES or status == 429:
        return RateLimited(text)
    if code in UNREACHABLE_CODES or subcode in UNREACHABLE_SUBCODES:
        return RecipientUnreachable(text)
    if code == 190:
        return PermanentSendError(text + " (access token invalid or expired)")
    if code in TRANSIENT_CODES or status >= 500 or error.get("is_transient") is True:
        return TransientSendError(text)
    return PermanentSendError(text)


def render_with_links(text: str, buttons: Sequence[Button]) -> list[dict[str, Any]]:
    """Text parts ending in a button template: `web_url` buttons for the links, `postback`
    buttons for the payloads, three at most (Meta's limit).

    Only http(s) addresses can be `web_url` buttons; other links (a viber:// deep link) and
    buttons beyond three go in the text as a numbered list, like any button that does not fit.
    Instagram shows templates (and quick replies) in its apps, not on the web version.
    """
    web = [b for b in buttons if b.url is None or b.url.lower().startswith(WEB_SCHEMES)]
    # links first: they are why this message is a template
    web.sort(key=lambda b: b.url is None)
    in_template, rest = web[:MAX_TEMPLATE_BUTTONS], web[MAX_TEMPLATE_BUTTONS:]
    rest += [b for b in buttons if b not in web]
    if rest:
        lines = [listed(b, i) for i, b in enumerate(rest, start=len(in_template) + 1)]
        text = (text + "\n\n" if text.strip() else "") + "\n".join(lines)
    if not text.strip():
        text = "…"
    chunks = split_by_bytes(text, MAX_TEXT_BYTES, MAX_TEXT_BYTES)
    last = chunks.pop()
    if len(last) > MAX_TEMPLATE_TEXT:
        # the template's own text is shorter than a message's: the rest goes before it
        head = split_text(last, MAX_TEMPLATE_TEXT)
        chunks.extend(head[:-1])
        last = head[-1]
    parts: list[dict[str, Any]] = [{"text": chunk} for chunk in chunks]
    template = {
        "template_type": "button",
        "text": last,
        "buttons": [
            {"type": "web_url", "url": b.url, "title": b.title}
            if b.url is not None
            else {"type": "postback", "title": b.title, "payload": b.payload}
            for b in in_template
        ],
    }
    parts.append({"attachment": {"type": "template", "payload": template}})
    return parts


def split_by_bytes(text: str, max_chars: int, max_bytes: int) -> list[str]:
    """`split_text` at `max_chars`, re-split where a part's UTF-8 exceeds `max_bytes`."""
    parts: list[str] = []
    for chunk in split_text(text, max_chars):
        size = len(chunk.encode())
        if size <= max_bytes:
            parts.append(chunk)
        else:
            shorter = max(1, min(len(chunk) - 1, len(chunk) * max_bytes // size))
            parts.extend(split_by_bytes(chunk, shorter, max_bytes))
    return parts


def _render_attachment(attachment: Attachment) -> dict[str, Any] | None:
    if attachment.kind == "location":
        if attachment.latitude is None or attachment.longitude is None:
            return None
        lat, lon = attachment.latitude, attachment.longitude
        return {"text": f"https://maps.google.com/?q={lat},{lon}"}
    if attachment.url is None:
        log.warning("instagram: dropping %s attachment without a url", attachment.kind)
        return None
    kind = attachment.kind if attachment.kind in ("image", "video", "audio", "file") else "file"
    return {"attachment": {"type": kind, "payload": {"url": attachment.url}}}
