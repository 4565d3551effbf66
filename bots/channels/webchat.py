"""The website chat (`channel = "webchat"`): a widget on the business's pages, live both ways.

One tag embeds it: ``<script src="https://<omnirelay>/webchat/widget.js" data-key="PUBLIC_KEY"
async></script>``. The widget (`bots/static/widget.js`) posts the visitor's messages to
``POST /webchat/messages``, which hands them to the same ingress as every webhook (durable
inbox, queue, worker, transcript, identity, handoff); what the bot, an agent or a proactive
scenario says is sent by the worker's outbox through `WebchatChannel.send`, which appends it to
the visitor's event log (`bots.channels.webchat_log`); ``GET /webchat/events`` streams that log
to the browser as server-sent events, resuming after ``Last-Event-ID``. The HTTP side is
`bots.channels.webchat_http`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from bots.channels.base import ChannelLimits, Ingress, SendContext
from bots.channels.errors import TransientSendError
from bots.channels.webchat_auth import Signer, WebchatConfig
from bots.channels.webchat_log import MemoryVisitorLog, RedisVisitorLog, VisitorLog
from bots.channels.webchat_render import LIMITS, render
from bots.channels.webchat_secret import kept_secret
from bots.identity.service import IdentityService
from bots.messages import OutboundMessage, SentMessage, now_utc
from storage.errors import BackendUnavailable

if TYPE_CHECKING:
    from bots.config import Settings
    from storage.backends import Backends
    from storage.db import Database

__all__ = ["DEMO_KEY", "WebchatChannel", "WebchatConfig", "webchat_config"]

log = logging.getLogger(__name__)

DEMO_KEY = "demo"  # the key of one process without Redis when none is set: `/chat` just works


def webchat_config(settings: Settings) -> WebchatConfig | None:
    """The web chat's configuration; None when it is off (no public key with Redis, unless
    this is the simulator's one process)."""
    key = settings.webchat_public_key
    several = settings.scale_out and not settings.simulator  # gateways that share visitors
    if key is None:
        if several:
            return None
        key = DEMO_KEY
    cookie = settings.webchat_cookie_secret
    if cookie is None and several:
        raise ValueError(
            "the web chat also needs OMNIRELAY_WEBCHAT_COOKIE_SECRET with Redis "
            "(every gateway must read the visitors' cookies)"
        )
    kept = kept_secret(settings.database_url) if cookie is None else None
    if cookie is None and kept is None:
        log.warning("webchat: no OMNIRELAY_WEBCHAT_COOKIE_SECRET; visitors are new after a restart")
    identity = settings.webchat_identity_secret
    continue_in = tuple(
        name
        for name, address in (
            ("telegram", settings.telegram_bot_username),
            ("viber", settings.viber_chat_uri),
        )
        if address
    )
    return WebchatConfig(
        public_key=key,
        allowed_origins=tuple(settings.webchat_allowed_origins),
        cookie_secret=(
            cookie.get_secret_value().encode()
            if cookie is not None
            else kept or secrets.token_bytes(32)
        ),
        cookie_secure=settings.webchat_cookie_secure,
        identity_secret=identity.get_secret_value() if identity is not None else None,
        default_language=settings.default_language,
        lock_timeout=settings.lock_timeout,
        continue_in=continue_in,
    )


class WebchatChannel:
    """Sends by appending to the visitor's log; its routes serve the widget and its API."""

    name = "webchat"
    limits: ChannelLimits = LIMITS

    def __init__(
        self,
        config: WebchatConfig,
        resources: Callable[[], tuple[Database, Backends]],
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.config = config
        self.signer = Signer(config.cookie_secret, secure=config.cookie_secure)
        self._resources = resources  # the app's, open once it starts
        self._clock = clock
        self._log: VisitorLog | None = None

    @property
    def log(self) -> VisitorLog:
        if self._log is None:  # opened by `start`; a route hit before it opens it here
            self._log = _open_log(self._resources()[1])
        return self._log

    def routes(self, ingress: Ingress) -> list[web.RouteDef]:
        from bots.channels.webchat_http import webchat_routes

        return webchat_routes(self, ingress)

    async def start(self) -> None:
        _ = self.log

    async def close(self) -> None:
        if self._log is not None:
            await self._log.close()
            self._log = None

    async def link_phone(self, visitor: str, phone: str) -> str:
        """Join a signed-in visitor to the customer who verified ``phone`` elsewhere (a Telegram
        contact, a code), or keep it as this visitor's verified number; the identity service's
        outcome ("linked", "phone_saved", "needs_code")."""
        db, backends = self._resources()
        identity = IdentityService(db, backends, lock_timeout=self.config.lock_timeout)
        result = await identity.link_by_verified_phone("webchat", visitor, phone, self._clock())
        return result.status

    async def send(
        self, recipient_id: str, message: OutboundMessage, context: SendContext
    ) -> SentMessage:
        event = render(message, self.limits)
        try:
            event_id = await self.log.append(recipient_id, event)
        except BackendUnavailable as e:
            raise TransientSendError(f"webchat: {e}") from e
        # event ids are per visitor (a Redis stream each): a receipt names both
        return SentMessage(platform_message_id=f"{recipient_id}/{event_id}")


def _open_log(backends: Backends) -> VisitorLog:
    if backends.redis is None or backends.keys is None:
        return MemoryVisitorLog()
    return RedisVisitorLog(backends.redis, backends.keys.prefix)
