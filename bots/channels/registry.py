"""Build the configured channels from settings. A channel without its token is off."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bots.channels.base import Channel
from bots.channels.ratelimit import with_global_rate
from bots.channels.rest import RestChannel
from bots.channels.webchat import WebchatChannel, webchat_config
from bots.config import Settings, secret
from bots.messages import now_utc
from storage.mailbox import ReplyMailbox

if TYPE_CHECKING:
    from bots.channels.viber import Welcome
    from storage.backends import Backends
    from storage.db import Database

log = logging.getLogger(__name__)


def build_channels(
    settings: Settings,
    *,
    mailbox: Callable[[], ReplyMailbox],
    register_webhooks: bool = True,
    clock: Callable[[], datetime] = now_utc,
    viber_welcome: Welcome = None,
    resources: Callable[[], tuple[Database, Backends]] | None = None,
) -> dict[str, Channel]:
    """`clock` is the bot's "now": Instagram's messaging window is measured on it, because the
    customer's last-message time is stored on it too (a pinned clock in tests and demos).
    `viber_welcome` is Viber's welcome on `conversation_started` (the flows' text, passed in:
    a channel never imports a flow). `resources` (the app's database and backends, once open)
    carry the web chat's visitor logs and its links to known customers; without them there is
    no web chat."""
    channels: dict[str, Channel] = {
        "rest": RestChannel(
            mailbox, token=secret(settings.rest_token), reply_timeout=settings.rest_reply_timeout
        )
    }
    public_url = settings.public_url if register_webhooks else None
    if settings.telegram_token is not None:
        from bots.channels.telegram import TelegramChannel

        channels["telegram"] = TelegramChannel(
            token=secret(settings.telegram_token) or "",
            webhook_secret=secret(settings.telegram_webhook_secret),
            api_base=settings.telegram_api_base,
            public_url=public_url,
            mode=settings.telegram_mode,
        )
    if settings.viber_token is not None:
        from bots.channels.viber import ViberChannel

        channels["viber"] = ViberChannel(
            auth_token=secret(settings.viber_token) or "",
            bot_name=settings.viber_bot_name,
            api_base=settings.viber_api_base,
            public_url=public_url,
            welcome=viber_welcome,
            mailbox=mailbox,  # the answer to a deep link's `context` is the welcome
            link_reply_timeout=settings.rest_reply_timeout,
        )
    if settings.instagram_app_secret is not None:
        channels["instagram"] = _instagram(settings, clock)
    webchat = webchat_config(settings) if resources is not None else None
    if webchat is not None and resources is not None:
        channels["webchat"] = WebchatChannel(webchat, resources, clock)
    for name, rate in settings.outbound_rates.items():
        if name in channels:  # OMNIRELAY_OUTBOUND_RATES: a platform's overall pace per bot
            channels[name].limits = with_global_rate(channels[name].limits, rate)
        else:
            log.warning("OMNIRELAY_OUTBOUND_RATES names %r, which is not enabled", name)
    enabled = ", ".join(channels)
    log.info("channels enabled: %s", enabled)
    return channels


def _instagram(settings: Settings, clock: Callable[[], datetime]) -> Channel:
    """The Instagram channel; its app secret alone is not enough, the rest is asked for."""
    from bots.channels.instagram import InstagramChannel

    missing = [
        name
        for name, value in (
            ("OMNIRELAY_INSTAGRAM_VERIFY_TOKEN", settings.instagram_verify_token),
            ("OMNIRELAY_INSTAGRAM_ACCESS_TOKEN", settings.instagram_access_token),
            ("OMNIRELAY_INSTAGRAM_ACCOUNT_ID", settings.instagram_account_id),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"the Instagram channel also needs {', '.join(missing)}")
    return InstagramChannel(
        app_secret=secret(settings.instagram_app_secret) or "",
        verify_token=secret(settings.instagram_verify_token) or "",
        access_token=secret(settings.instagram_access_token) or "",
        account_id=settings.instagram_account_id or "",
        api_base=settings.instagram_api_base,
        clock=clock,
    )
