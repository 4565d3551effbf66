"""Viber REST Bot API channel: `POST /webhooks/viber` in, `{api_base}/send_message` out.

Callbacks are checked (hex HMAC-SHA256 of the raw body keyed by the auth token, from
`X-Viber-Content-Signature` or `?sig=`, compared in constant time) and parsed with viberbot's
request models. Sending goes over aiohttp, because viberbot's own sender blocks on `requests`;
viberbot's message classes still build the JSON.

Reply buttons carry `ActionBody = payload_prefix + payload`; Viber sends that back as the text of
an ordinary message, which is how a tap is told apart from typed text. The button titles travel in
`tracking_data` (Viber returns it with the user's next message), so the inbound message can keep
the human-readable title as its text.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from viberbot.api.messages import TextMessage

from bots.channels.base import ChannelLimits, Ingress, SendContext, fit_buttons, split_text
from bots.channels.errors import (
    ChannelError,
    MalformedPayload,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    SignatureError,
    TransientSendError,
)
from bots.channels.viber_parse import parse_callback
from bots.channels.viber_render import (
    DEFAULT_PAYLOAD_PREFIX,
    keyboard_capacity,
    render_attachment,
    render_keyboard,
)
from bots.messages import (
    ChannelEvent,
    InboundEvent,
    OutboundMessage,
    SentMessage,
    decode_outbound,
)
from storage.errors import StorageError
from storage.mailbox import ReplyMailbox

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://chatapi.viber.com/pa"
WEBHOOK_PATH = "/webhooks/viber"
# message, subscribed and unsubscribed are always sent and cannot be listed.
WEBHOOK_EVENTS = ("delivered", "seen", "failed", "conversation_started")
MAX_SENDER_NAME = 28
UNANSWERED_PER_HOUR = 100  # more to one user without a reply -> status 12
MAX_TEXT_BYTES = 24 * 1024  # requests are capped at 30 KB; leave room for the keyboard
_UNREACHABLE = {5, 6}  # receiverNotRegistered, receiverNotSubscribed
_TRANSIENT = {99}  # "General error": nothing in the request to fix, worth a retry later
Welcome = OutboundMessage | Callable[[ChannelEvent], OutboundMessage | None] | None


def signature(auth_token: str, body: bytes) -> str:
    """viberbot's `Api._calculate_message_signature`: hex HMAC-SHA256(auth token, raw body)."""
    return hmac.new(auth_token.encode(), msg=body, digestmod=hashlib.sha256).hexdigest()


class ViberChannel:
    """The Viber bot channel (`channel = "viber"`)."""

    name = "viber"
    limits = ChannelLimits(
        max_text=7000,  # Viber's documented text limit
        max_buttons=24,  # two per row, 12 rows: the portrait maximum
        max_button_title=40,
        # Viber's only per-user rule is UNANSWERED_PER_HOUR, and a reply resets it: a steady
        # rate would throttle live conversations for nothing, so status 12 (RateLimited) is
        # the signal instead. No account-wide figure is published either.
        per_chat_rate=None,
        global_rate=None,
    )

    def __init__(
        self,
        *,
        auth_token: str,
        bot_name: str,
        api_base: str = DEFAULT_API_BASE,
        public_url: str | None = None,
        avatar: str | None = None,
        welcome: Welcome = None,
        mailbox: Callable[[], ReplyMailbox] | None = None,
        link_reply_timeout: float = 10.0,
        share_phone_label: str = "Share phone number",
        payload_prefix: str = DEFAULT_PAYLOAD_PREFIX,
        request_timeout: float = 10.0,
        webhook_attempts: int = 5,
        webhook_retry_delay: float = 2.0,
    ) -> None:
        self._token = auth_token
        self._bot_name = bot_name[:MAX_SENDER_NAME]
        self._avatar = avatar
        self._api_base = api_base.rstrip("/")
        self._public_url = public_url.rstrip("/") if public_url else None
        self._welcome = welcome
        self._mailbox = mailbox  # the worker's answer to a deep link's `context` arrives here
        self._link_reply_timeout = link_reply_timeout
        self._share_phone_label = share_phone_label
        self._prefix = payload_prefix
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._webhook_attempts = webhook_attempts
        self._webhook_retry_delay = webhook_retry_delay
        self._session: aiohttp.ClientSession | None = None
        self.webhook_registration: asyncio.Task[list[str]] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def routes(self, ingress: Ingress) -> list[web.RouteDef]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, ingress)

        return [web.post(WEBHOOK_PATH, handle)]

    async def start(self) -> None:
        """Open the HTTP client; with a public URL, register the webhook in the background.

        Viber checks a new webhook by calling it at once, so registration must not block the
        start-up that brings our server up: it runs in `webhook_registration` (retried with
        backoff) and its failures are logged.
        """
        self._client()
        if self._public_url and self.webhook_registration is None:
            self.webhook_registration = asyncio.create_task(self._register_webhook())

    async def close(self) -> None:
        task, self.webhook_registration = self.webhook_registration, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            # a failed registration was logged already
            with contextlib.suppress(asyncio.CancelledError, ChannelError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def set_webhook(
        self, url: str, event_types: tuple[str, ...] = WEBHOOK_EVENTS
    ) -> list[str]:
        """Call `set_webhook`; return the event types Viber confirmed."""
        body = {
            "url": url,
            "event_types": list(event_types),
            "send_name": True,
            "send_photo": False,
        }
        answer = await self._call("set_webhook", body)
        return [str(e) for e in answer.get("event_types") or ()]

    async def _register_webhook(self) -> list[str]:
        assert self._public_url is not None
        url = self._public_url + WEBHOOK_PATH
        delay = self._webhook_retry_delay
        for attempt in range(1, self._webhook_attempts + 1):
            try:
                events = await self.set_webhook(url)
            except ChannelError as e:
                log.warning("viber: set_webhook %s failed (attempt %d): %s", url, attempt, e)
                if attempt == self._webhook_attempts:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
            else:
                log.info("viber: webhook set to %s for %s", url, events)
                return events
        raise AssertionError("unreachable")

    # ---- sending -----------------------------------------------------------------------------

    async def send(
        self, recipient_id: str, message: OutboundMessage, context: SendContext
    ) -> SentMessage:
        """Send one outbound message as one or more Viber messages; the last token is returned."""
        token: str | None = None
        payloads = self.render(message)
        for payload in payloads:
            payload["receiver"] = recipient_id
            answer = await self._call("send_message", payload)
            token = str(answer["message_token"]) if "message_token" in answer else None
        return SentMessage(platform_message_id=token, parts=len(payloads))

    def render(self, message: OutboundMessage) -> list[dict[str, Any]]:
        """send_message bodies (without `receiver`) for one outbound message.

        Long text is split; the keyboard and the button titles ride on the last part.
        """
        parts: list[dict[str, Any]] = []
        if message.attachment is not None:
            rendered = render_attachment(message.attachment)
            if rendered is not None:
                parts.append(rendered)
        fit = ChannelLimits(
            max_text=self.limits.max_text,
            max_buttons=keyboard_capacity(message.request_phone),
            max_button_title=self.limits.max_button_title,
        )
        text, buttons = fit_buttons(message.text, message.buttons, fit)
        keyboard, titles = render_keyboard(
            buttons,
            request_phone=message.request_phone,
            prefix=self._prefix,
            share_phone_label=message.phone_label or self._share_phone_label,
        )
        for chunk in split_for_viber(text, self.limits.max_text) if text.strip() else []:
            parts.append(TextMessage(text=chunk).to_dict())
        if not parts:
            parts.append(TextMessage(text=text or "…").to_dict())
        if keyboard is not None:
            # The keyboard and the payload -> title map ride on the last part.
            last = parts[-1]
            last["keyboard"] = keyboard
            if titles:
                last["tracking_data"] = titles
            if message.request_phone:
                last["min_api_version"] = 3
        sender: dict[str, Any] = {"name": self._bot_name}
        if self._avatar:
            sender["avatar"] = self._avatar
        for part in parts:
            part["sender"] = sender
        return parts

    def welcome_response(
        self, event: ChannelEvent, welcome: OutboundMessage | None = None
    ) -> dict[str, Any] | None:
        """The conversation_started answer body: one send_message JSON without `receiver`;
        ``welcome`` (the worker's answer to a deep link) or the configured welcome."""
        if welcome is None:
            welcome = self._welcome(event) if callable(self._welcome) else self._welcome
        if welcome is None:
            return None
        parts = self.render(welcome)
        # Only one message is allowed in the answer: keep the one carrying the keyboard.
        body = parts[-1]
        if len(parts) > 1:
            log.warning("viber: welcome message too long; only its last part is sent")
        return body

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self._api_base}/{method}"
        headers = {"X-Viber-Auth-Token": self._token, "Content-Type": "application/json"}
        # UTF-8, not \u escapes: 7000 Cyrillic characters escaped would pass the 30 KB cap.
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            async with self._client().post(url, data=data, headers=headers) as response:
                status = response.status
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransientSendError(f"viber {method}: {e!r}") from e
        if status == 429:
            raise RateLimited(f"viber {method}: HTTP 429")
        if status >= 500:
            raise TransientSendError(f"viber {method}: HTTP {status}")
        if status != 200:
            raise PermanentSendError(f"viber {method}: HTTP {status}: {text[:200]}")
        try:
            answer = json.loads(text)
        except ValueError as e:
            raise TransientSendError(f"viber {method}: answer is not JSON: {text[:200]!r}") from e
        if not isinstance(answer, dict):
            raise TransientSendError(f"viber {method}: unexpected answer {text[:200]!r}")
        _raise_for_status(method, answer)
        return answer

    # ---- webhook -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request, ingress: Ingress) -> web.StreamResponse:
        body = await request.read()
        try:
            self.verify(
                body, request.headers.get("X-Viber-Content-Signature"), request.query.get("sig")
            )
        except SignatureError as e:
            log.warning("viber: rejected callback from %s: %s", request.remote, e)
            return web.json_response({"error": str(e)}, status=403)
        try:
            doc, events = self.parse(body)
        except MalformedPayload as e:
            log.warning("viber: malformed callback from %s: %s", request.remote, e)
            return web.json_response({"error": str(e)}, status=400)
        if doc.get("event") == "conversation_started" and events:
            event = events[0]
            assert isinstance(event, ChannelEvent)
            answer = self.welcome_response(event, await self._opened(event, ingress))
            if answer is not None:
                return web.json_response(answer)
        elif events:
            await ingress.accept(events)
        return web.json_response({"status": 0})

    async def _opened(self, event: ChannelEvent, ingress: Ingress) -> OutboundMessage | None:
        """Enqueue a conversation_started; for a deep link's `context`, wait for the worker's
        answer (what the link did), which can only travel as the welcome in this response:
        Viber refuses messages to a user who has only opened the chat. None: the configured
        welcome (no context, a duplicate, or no answer in time)."""
        if not event.detail or self._mailbox is None:
            await ingress.accept([event])
            return None
        mailbox = self._mailbox()
        event = dataclasses.replace(event, reply_to=mailbox.node_id)
        try:
            async with mailbox.expect(event.event_id) as waiter:
                accepted = (await ingress.accept([event])).accepted
                answer = await waiter.get(self._link_reply_timeout) if accepted else None
        except StorageError as e:  # the same callback in flight twice: the first one answers
            log.info("viber: conversation_started %s: %s", event.event_id, e)
            return None
        if accepted and answer is None:
            log.warning(
                "viber: no answer to the deep link of %s within %.1fs; the plain welcome goes",
                event.event_id,
                self._link_reply_timeout,
            )
        return _decode_welcome(answer)

    def verify(self, body: bytes, header: str | None, query_sig: str | None) -> None:
        """Raise `SignatureError` unless the header (or `?sig=`) signs `body`."""
        given = header or query_sig
        if not given:
            raise SignatureError("missing X-Viber-Content-Signature")
        expected = signature(self._token, body)
        if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            raise SignatureError("X-Viber-Content-Signature does not match")

    def parse(self, body: bytes) -> tuple[dict[str, Any], list[InboundEvent]]:
        """Parse a verified callback body; see `viber_parse.parse_callback`."""
        return parse_callback(body, payload_prefix=self._prefix)


def split_for_viber(text: str, max_chars: int) -> list[str]:
    """`split_text` that also keeps every part's UTF-8 well under Viber's 30 KB request cap."""
    parts: list[str] = []
    for chunk in split_text(text, max_chars):
        size = len(chunk.encode())
        if size <= MAX_TEXT_BYTES:
            parts.append(chunk)
        else:
            shorter = max(1, min(len(chunk) - 1, len(chunk) * MAX_TEXT_BYTES // size))
            parts.extend(split_for_viber(chunk, shorter))
    return parts


def _decode_welcome(answer: bytes | None) -> OutboundMessage | None:
    if not answer:
        return None
    try:
        doc = json.loads(answer)
        return decode_outbound(doc) if isinstance(doc, dict) else None
    except (ValueError, KeyError, TypeError) as e:
        log.warning("viber: unreadable welcome from the worker: %s", e)
        return None


def _raise_for_status(method: str, answer: dict[str, Any]) -> None:
    status = answer.get("status")
    if status == 0:
        return
    message = f"viber {method}: status {status} {answer.get('status_message')!r}"
    if status == 12:
        raise RateLimited(message)
    if status in _UNREACHABLE:
        raise RecipientUnreachable(message)
    if status in _TRANSIENT or not isinstance(status, int):
        raise TransientSendError(message)
    raise PermanentSendError(message)
