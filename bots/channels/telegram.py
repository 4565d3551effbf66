"""The Telegram channel: webhook (or long polling) in, aiogram's Bot out.

Parsing lives in `telegram_parse`, rendering and error mapping in `telegram_render`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, Literal

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    TelegramConflictError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import Update
from aiogram.utils.token import TokenValidationError, validate_token
from aiohttp import web
from pydantic import ValidationError

from bots.channels.base import ChannelLimits, Ingress, SendContext
from bots.channels.edge import check_event, decode_json
from bots.channels.errors import ChannelError, MalformedPayload
from bots.channels.telegram_parse import HANDLED, handled_kind, normalise, repair_update
from bots.channels.telegram_render import LIMITS, map_error, render
from bots.messages import InboundEvent, OutboundMessage, SentMessage
from storage.errors import OmnirelayError

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = list(HANDLED)  # incl. my_chat_member, callback_query, edited_message
_DRAIN_TIMEOUT = 5.0  # seconds close() waits for callback answers still in flight


class TelegramConfigError(ChannelError, ValueError):
    """The Telegram channel was configured in a way that cannot work."""


def _secret_ok(secret: str) -> bool:
    # Bot API: 1-256 characters of A-Z, a-z, 0-9, _ and -.
    return 1 <= len(secret) <= 256 and all(
        c.isascii() and (c.isalnum() or c in "_-") for c in secret
    )


class TelegramChannel:
    """Telegram Bot API through aiogram 3, aimed at `api_base` (a fake in tests)."""

    name = "telegram"
    limits: ChannelLimits = LIMITS

    def __init__(
        self,
        token: str,
        *,
        webhook_secret: str | None = None,
        api_base: str = "https://api.telegram.org",
        public_url: str | None = None,
        mode: Literal["webhook", "polling"] = "webhook",
        request_timeout: float = 30.0,
        poll_timeout: int = 25,
    ) -> None:
        try:
            validate_token(token)
        except TokenValidationError as e:
            raise TelegramConfigError("telegram: the bot token is malformed") from e
        if mode not in ("webhook", "polling"):
            raise TelegramConfigError(f"telegram: unknown mode {mode!r}")
        if webhook_secret is not None and not _secret_ok(webhook_secret):
            raise TelegramConfigError(
                "telegram: the webhook secret must be 1-256 characters of A-Z a-z 0-9 _ -"
            )
        self._token = token
        self._secret = webhook_secret
        self._api = TelegramAPIServer.from_base(api_base)
        self._public_url = public_url.rstrip("/") if public_url else None
        self.mode = mode
        self._request_timeout = request_timeout
        self._poll_timeout = poll_timeout
        self._bot: Bot | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the Bot; in webhook mode with a public URL, register the webhook."""
        if self._bot is None:
            session = AiohttpSession(api=self._api, timeout=self._request_timeout)
            self._bot = Bot(self._token, session=session)
        if self.mode == "webhook" and self._public_url:
            if not self._secret:
                raise TelegramConfigError("telegram: a webhook needs a webhook secret")
            try:
                await self._bot.set_webhook(
                    url=self._public_url + WEBHOOK_PATH,
                    secret_token=self._secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
            except AiogramError as e:
                raise map_error(e) from e
            log.info("telegram: webhook registered at %s%s", self._public_url, WEBHOOK_PATH)

    async def close(self) -> None:
        """Let in-flight callback answers finish (briefly), then close the HTTP session."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=_DRAIN_TIMEOUT)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._bot is not None:
            await self._bot.session.close()
            self._bot = None

    @property
    def bot(self) -> Bot:
        if self._bot is None:
            raise ChannelError("telegram: channel not started")
        return self._bot

    # ---- inbound ---------------------------------------------------------------------------

    def routes(self, ingress: Ingress) -> list[web.RouteDef]:
        """`POST /webhooks/telegram` in webhook mode; nothing in polling mode."""
        if self.mode == "polling":
            return []
        if not self._secret:
            raise TelegramConfigError(
                "telegram: refusing to serve the webhook without a webhook secret "
                "(set OMNIRELAY_TELEGRAM_WEBHOOK_SECRET)"
            )
        secret = self._secret.encode()

        async def webhook(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "").encode()
            if not hmac.compare_digest(given, secret):
                log.warning("telegram: webhook secret token missing or wrong (%s)", request.remote)
                return web.json_response({"error": "invalid secret token"}, status=401)
            body = await request.read()
            try:
                update, raw = self._parse(body)
                events = normalise(update, raw) if update is not None else []
                for event in events:
                    check_event(event)
            except MalformedPayload as e:
                # Telegram re-sends a non-2xx update for a day; only a body that can never
                # be an update (not JSON, no update_id, a handled kind of the wrong shape) is
                # refused. Unknown kinds and chats that are not private are dropped with 200.
                log.warning("telegram: malformed update rejected: %s", e)
                return web.json_response({"error": str(e)}, status=400)
            if update is not None and update.callback_query is not None:
                # Stop the button's spinner now, whatever the core later does with the tap.
                self._spawn(self._answer_callback(update.callback_query.id))
            if events:
                await ingress.accept(events)
            return web.json_response({})

        return [web.post(WEBHOOK_PATH, webhook)]

    def _parse(self, body: bytes) -> tuple[Update | None, dict[str, Any]]:
        """The update (None for a kind we ignore) and its raw form; `MalformedPayload`."""
        raw = decode_json(body)
        if not isinstance(raw, dict) or "update_id" not in raw:
            raise MalformedPayload("body is not a Telegram Update (no update_id)")
        if handled_kind(raw) is None:
            return None, raw
        raw = repair_update(raw)
        try:
            context = {"bot": self._bot} if self._bot is not None else None
            update = Update.model_validate(raw, context=context)
        except ValidationError as e:
            errors = "; ".join(
                f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()[:3]
            )
            raise MalformedPayload(f"invalid update: {errors[:500]}") from e
        return update, raw

    def _handle(self, update: Update, raw: dict[str, Any]) -> list[InboundEvent]:
        if update.callback_query is not None:
            # Stop the button's spinner now, whatever the core later does with the tap.
            self._spawn(self._answer_callback(update.callback_query.id))
        return normalise(update, raw)

    async def _answer_callback(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)
        except (AiogramError, ChannelError) as e:
            # Answering is cosmetic; a lost answer must not lose the tap itself.
            log.warning("telegram: answerCallbackQuery failed: %s", e)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- outbound --------------------------------------------------------------------------

    async def send(
        self, recipient_id: str, message: OutboundMessage, context: SendContext
    ) -> SentMessage:
        """Send one message (several if the text is long); no retries here, the outbox
        retries on `RateLimited` / `TransientSendError`."""
        rendered = render(message, self.limits)
        chat_id: int | str = (
            int(recipient_id) if recipient_id.lstrip("-").isdigit() else recipient_id
        )
        last = len(rendered.parts) - 1
        message_id: int | None = None
        for i, part in enumerate(rendered.parts):
            try:
                sent = await self.bot.send_message(
                    chat_id=chat_id,
                    text=part,
                    reply_markup=rendered.markup
                    if i == last
                    else (rendered.first_markup if i == 0 else None),
                )
            except AiogramError as e:
                raise map_error(e) from e
            message_id = sent.message_id
        return SentMessage(
            platform_message_id=str(message_id) if message_id is not None else None,
            parts=len(rendered.parts),
        )

    # ---- polling (development) -------------------------------------------------------------

    async def poll(self, ingress: Ingress, stop: asyncio.Event) -> None:
        """Long-poll `getUpdates` until `stop` is set, handing events to `ingress`.

        The offset advances only after `ingress.accept` succeeded, so a failure means the
        batch is fetched again (dedup by update_id makes that harmless).
        """
        bot = self.bot
        await bot.delete_webhook(drop_pending_updates=False)
        offset: int | None = None
        while not stop.is_set():
            fetch = asyncio.ensure_future(
                bot.get_updates(
                    offset=offset,
                    timeout=self._poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=self._poll_timeout + 10,
                )
            )
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not fetch.done():
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)
                break
            try:
                updates = fetch.result()
                events = self._poll_events(updates)
                if events:
                    await ingress.accept(events)
            except TelegramUnauthorizedError as e:
                raise map_error(e) from e
            except (AiogramError, OmnirelayError) as e:
                delay = float(e.retry_after) if isinstance(e, TelegramRetryAfter) else 2.0
                if isinstance(e, TelegramConflictError):
                    delay = 5.0  # another poller, or a webhook set behind our back
                log.warning("telegram: polling failed (%s); again in %.0f s", e, delay)
                await _wait(stop, delay)
                continue
            if updates:
                offset = updates[-1].update_id + 1

    def _poll_events(self, updates: Sequence[Update]) -> list[InboundEvent]:
        events: list[InboundEvent] = []
        for update in updates:
            raw = update.model_dump(mode="json", by_alias=True, exclude_none=True)
            for event in self._handle(update, raw):
                try:
                    check_event(event)
                except MalformedPayload as e:  # polling cannot refuse: drop it, once, loudly
                    log.warning("telegram: update %s dropped: %s", update.update_id, e)
                    continue
                events.append(event)
        return events


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
