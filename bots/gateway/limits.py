"""Abuse limits at the gateway: a flood from one sender, and too many requests from one IP.

`InboundLimiter` sits in front of the durable inbox (`bots.gateway.ingress.QueueIngress`):
each sender (``channel:user id``, the ordering key) has a token bucket. Past it, the first
message gets one polite "please wait" (in the sender's language, sent straight from the
gateway in the background) and is dropped like the rest of the flood: acknowledged to the
platform (2xx, no redelivery), never stored, logged once and counted
(``omnirelay_inbound_limited_total``). A REST sender, who waits for a synchronous answer, is
answered 429 instead. Other senders never wait on this: each bucket is its own key.

`ip_limit_middleware` gives each client IP a bucket on ``POST /webhooks/rest`` and ``POST
/api/events`` (429 with Retry-After); the client's address is taken from X-Forwarded-For only
when the connection comes from a proxy in ``OMNIRELAY_TRUSTED_PROXIES``. A loopback client (this
host: a local script, the tests, a proxy on the same host that is not listed) is not limited.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import Counter

from bots.channels.base import Channel, SendContext
from bots.gateway.http import Handler
from bots.keys import BACKENDS
from bots.messages import InboundEvent, InboundMessage, OutboundMessage
from bots.metrics import Metrics
from storage.rate_limits import Bucket, MemoryRateLimits, RateLimits, RedisRateLimits

if TYPE_CHECKING:
    from bots.config import Settings
    from storage.backends import Backends

__all__ = [
    "NOTICE",
    "InboundLimiter",
    "client_address",
    "inbound_limiter",
    "ip_limit_middleware",
]

log = logging.getLogger(__name__)

#: the polite answer to a flood, by language
NOTICE = {
    "uk": "Забагато повідомлень поспіль. Будь ласка, зачекайте хвилинку: "
    "ми відповімо на попередні.",
    "en": "Too many messages in a row. Please wait a minute: we will answer the earlier ones.",
}
NOTICE_TIMEOUT = 10.0  # seconds one notice may take to send
IP_LIMITED_PATHS = frozenset(
    {"/webhooks/rest", "/api/events", "/webchat/session", "/webchat/messages", "/webchat/seen"}
)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def limits_for(bucket: Bucket, backends: Backends, key_of: str) -> RateLimits:
    """The buckets on Redis when the deployment has one (shared by every gateway), else here."""
    if backends.redis is not None and backends.keys is not None:
        return RedisRateLimits(backends.redis, bucket, getattr(backends.keys, key_of))
    return MemoryRateLimits(bucket)


class InboundLimiter:
    """Lets through what each sender's bucket allows; notices and drops the rest."""

    def __init__(
        self,
        limits: RateLimits | None,
        channels: Callable[[], dict[str, Channel]],
        metrics: Metrics,
        default_language: str,
    ) -> None:
        self._limits = limits
        self._channels = channels
        self._default_language = default_language
        self._notices: set[asyncio.Task[None]] = set()
        self.limited = Counter(
            "omnirelay_inbound_limited_total",
            "Messages dropped by the per-sender inbound limit (action: noticed, the one answered "
            "politely; dropped, the rest)",
            ["channel", "action"],
            registry=metrics.registry,
        )

    async def admit(self, events: Sequence[InboundEvent]) -> list[InboundEvent]:
        """The events to store; raises 429 for a REST sender over the limit."""
        if self._limits is None:  # OMNIRELAY_INBOUND_RATE_BURST=0
            return list(events)
        kept: list[InboundEvent] = []
        for event in events:
            if not isinstance(event, InboundMessage):  # receipts, blocks: not the sender's flood
                kept.append(event)
                continue
            decision = await self._limits.take(event.ordering_key)
            if decision.verdict == "allow":
                kept.append(event)
                continue
            if event.channel == "rest":
                retry = str(max(1, math.ceil(decision.retry_after)))
                raise web.HTTPTooManyRequests(reason=NOTICE["en"], headers={"Retry-After": retry})
            noticed = decision.verdict == "notify"
            self.limited.labels(
                channel=event.channel, action="noticed" if noticed else "dropped"
            ).inc()
            if noticed:
                log.warning(
                    "%s sender %s over the inbound limit: answered once, dropping the rest",
                    event.channel,
                    _short(event.user_id),
                )
                self._notify(event)
        return kept

    async def refund(self, events: Sequence[InboundEvent]) -> None:
        """Give back the tokens of messages that were not stored after all (a duplicate
        delivery, or a store that failed and will be retried): only new messages count."""
        limits = self._limits
        if limits is None:
            return
        counts: dict[str, int] = {}
        for event in events:
            if isinstance(event, InboundMessage):
                counts[event.ordering_key] = counts.get(event.ordering_key, 0) + 1
        for key, n in counts.items():
            try:
                await limits.give_back(key, n)
            except Exception as e:  # Redis down as well: the bucket refills by itself
                log.warning("inbound limit: tokens not given back (%s)", e)

    def _notify(self, event: InboundMessage) -> None:
        task = asyncio.create_task(self._send_notice(event), name="inbound-limit-notice")
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def _send_notice(self, event: InboundMessage) -> None:
        channel = self._channels().get(event.channel)
        if channel is None:
            return
        text = NOTICE[language_of(event, self._default_language)]
        try:
            await asyncio.wait_for(
                channel.send(
                    event.user_id,
                    OutboundMessage(text=text),
                    SendContext(last_inbound_at=event.timestamp),
                ),
                NOTICE_TIMEOUT,
            )
        except Exception as e:  # the notice is a courtesy: a failure is only logged
            log.warning("%s: the inbound limit notice was not sent (%s)", event.channel, e)

    async def close(self) -> None:
        """Let the notices in flight finish (each is bounded by `NOTICE_TIMEOUT`)."""
        if self._notices:
            await asyncio.gather(*self._notices, return_exceptions=True)


def inbound_limiter(
    settings: Settings,
    backends: Backends,
    channels: Callable[[], dict[str, Channel]],
    metrics: Metrics,
) -> InboundLimiter:
    """The gateway's per-sender limiter (letting everything through when
    `OMNIRELAY_INBOUND_RATE_BURST` is 0)."""
    limits = None
    if settings.inbound_rate_burst > 0:
        bucket = Bucket(settings.inbound_rate_burst, settings.inbound_rate_per_minute / 60)
        limits = limits_for(bucket, backends, "inbound_rate")
    return InboundLimiter(limits, channels, metrics, settings.default_language)


def language_of(event: InboundMessage, default: str) -> str:
    """ "uk" or "en": the platform's language code, else the script of the text, else the
    bot's default language."""
    hint = (event.language_hint or "").lower()[:2]
    if hint in NOTICE:
        return hint
    if hint or event.text:
        return "uk" if _CYRILLIC.search(event.text or "") or hint in ("ru", "be") else "en"
    return default if default in NOTICE else "en"


def _short(user_id: str) -> str:
    """A sender id for a log line: enough to tell floods apart, not the whole id."""
    return user_id[:4] + "…" if len(user_id) > 4 else user_id


# ---- per client IP --------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(proxies: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def client_address(request: web.Request, trusted: Sequence[Network]) -> str:
    """The client's IP: the connection's peer, or, when that peer is a trusted proxy, the
    right-most X-Forwarded-For address that is not itself a trusted proxy."""
    peer = request.remote or "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = [
        a.strip() for h in request.headers.getall("X-Forwarded-For", []) for a in h.split(",")
    ]
    for address in reversed([a for a in forwarded if a]):
        if not _is_trusted(address, trusted):
            return address if _valid_ip(address) else peer
    return peer


def _valid_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def ip_limit_middleware(settings: Settings) -> Middleware:
    """The per-IP limit on the REST and events endpoints (no-op when its burst is 0)."""
    trusted = trusted_networks(settings.trusted_proxies)
    bucket = (
        Bucket(settings.rest_rate_burst, settings.rest_rate_per_minute / 60)
        if settings.rest_rate_burst > 0
        else None
    )
    limits: list[RateLimits] = []  # made on the first request, once the backends are open

    @web.middleware
    async def ip_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if bucket is not None and request.method == "POST" and request.path in IP_LIMITED_PATHS:
            if not limits:
                limits.append(limits_for(bucket, request.app[BACKENDS], "ip_rate"))
            address = client_address(request, trusted)
            if _is_loopback(address):  # this host itself: a local script, a health check
                return await handler(request)
            decision = await limits[0].take(address)
            if decision.verdict != "allow":
                retry = str(max(1, math.ceil(decision.retry_after)))
                return web.json_response(
                    {"error": "too many requests, retry later"},
                    status=429,
                    headers={"Retry-After": retry},
                )
        return await handler(request)

    return ip_limit
