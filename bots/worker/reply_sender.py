"""One stored reply to its platform: retries, rate-limit waits, the send lease, the outcome.

`bots.worker.outbox` keeps the replies in per-chat lanes and hands them here one at a time;
`ReplySender.deliver` sends one, waiting in memory for short retries and rate limits, and tells
the lane whether the chat's later replies may follow (or must be deferred behind it).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from sqlalchemy.orm import Session

from bots.channels.base import Channel, SendContext
from bots.channels.errors import (
    OutsideMessagingWindow,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    SendError,
    TransientSendError,
)
from bots.channels.ratelimit import RateLimiter
from bots.messages import PendingSend, now_utc
from bots.metrics import Metrics
from storage.analytics.events import record_delivery_failed
from storage.db import Database
from storage.queue import is_outage
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository, mark_sent_statement

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 1.0  # a 429 without retry_after (Telegram 2016-era answers)
MAX_BACKOFF = 10.0  # a 5xx or timeout is retried at least this often, however long it lasts
INLINE_WAIT_LIMIT = 30.0  # longer waits are handed to the sweeper instead of held in memory
BURST = 3.0  # replies of one turn (text + a follow-up) may go out together

#: Told when a reply's delivery ends: (row id, sender "bot" | "agent", status, error). Status
#: is "sent", "failed" or "undeliverable"; a deferred reply is told when its retry ends it.
DeliveryListener = Callable[[int, str, str, str | None], Awaitable[None]]


@dataclass(slots=True)
class QueuedReply:
    """A stored reply waiting in (or going through) its chat's lane."""

    send: PendingSend
    last_inbound_at: datetime | None
    attempt: int = 1
    deferred_until: datetime | None = None
    # monotonic time at which the row was last known to be this process's to send (None:
    # not known; `_still_mine` asks the database before the first send)
    confirmed_at: float | None = None
    rate_limited_for: float = 0.0  # seconds of waits the platform asked for (429s)


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """How hard a reply is tried: see `bots.worker.outbox.Outbox` for the defaults."""

    max_attempts: int  # failed attempts (5xx, timeouts) before a reply is given up
    max_retry_after: float  # rate-limit waits (429s) of one reply before it is given up
    base_backoff: float  # the first retry's wait after a failed attempt, doubled each time
    lease: float  # how long a claimed reply stays this process's without renewal


class ReplySender:
    """Sends one reply at a time for the outbox's lanes, as the process ``owner``."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        metrics: Metrics,
        policy: SendPolicy,
        *,
        owner: str,
        rate_limits: bool = True,
    ) -> None:
        self._db = db
        self._channels = channels
        self._metrics = metrics
        self._policy = policy
        self._owner = owner
        # Each platform's declared pace (Telegram ~1/s per chat, 30/s overall...): a burst
        # waits its turn in the chat's lane instead of being refused with 429s.
        self._limiters = {
            name: RateLimiter.from_limits(channel.limits, per_chat_burst=BURST)
            for name, channel in channels.items()
            if rate_limits
            and (channel.limits.per_chat_rate is not None or channel.limits.global_rate is not None)
        }
        #: called after each delivery's outcome is committed (`Outbox.on_delivery`)
        self.listeners: list[DeliveryListener] = []

    async def deliver(self, item: QueuedReply) -> bool:
        """Send one row with inline retries, first making sure it is still this process's to
        send. False: the lane must stop (deferred/unreachable)."""
        send = item.send
        channel = self._channels.get(send.channel)
        if channel is None:
            error = f"channel {send.channel!r} is not configured"
            await self._fail(send, "failed", error, cause="not_configured")
            return True
        if item.last_inbound_at is None:
            # A reply the sweeper picked up, or an agent's: the messaging window (Instagram
            # 24 h / 7 days) counts from the customer's last message, so look it up.
            item.last_inbound_at = await self._last_inbound(send)
        context = SendContext(last_inbound_at=item.last_inbound_at, sender=send.message.sender)
        limiter = self._limiters.get(send.channel)
        while True:
            if limiter is not None:
                await limiter.acquire(send.recipient_id)
            if not await self._still_mine(item):
                wait = await self._held_elsewhere(item)
                if wait is None:
                    return True
                # Wait for the holder's lease: the chat's later replies must not overtake this
                # one. The holder sends it (and this lane finds it sent), or the lease runs out
                # and this lane claims and sends it.
                await asyncio.sleep(wait)
                continue
            outcome = await self._send_once(item, channel, context)
            if outcome is not None:
                return outcome

    async def _send_once(
        self, item: QueuedReply, channel: Channel, context: SendContext
    ) -> bool | None:
        """One call to the platform: what `deliver` returns, or None to send again."""
        send = item.send
        try:
            sent = await channel.send(send.recipient_id, send.message, context)
        except RateLimited as e:
            return await self._rate_limited(item, e)
        except TransientSendError as e:
            return await self._transient(item, e)
        except RecipientUnreachable as e:
            self._metrics.sent.labels(channel=send.channel, result="unreachable").inc()
            log.warning(
                "%s user %s unreachable (%s); marking the identity and stopping",
                send.channel,
                _mask(send.recipient_id),
                e,
            )
            await self._unreachable(send, str(e))
            return False
        except OutsideMessagingWindow as e:
            self._metrics.sent.labels(channel=send.channel, result="outside_window").inc()
            log.warning("%s reply %d kept undeliverable: %s", send.channel, send.row_id, e)
            await self._fail(send, "undeliverable", str(e), cause="outside_window")
            return True
        except (PermanentSendError, SendError) as e:
            self._metrics.sent.labels(channel=send.channel, result="failed").inc()
            log.error("%s reply %d rejected by the platform: %s", send.channel, send.row_id, e)
            await self._fail(send, "failed", str(e), cause="rejected")
            return True
        self._metrics.reply_sent(send)
        log.debug("%s reply %d sent", send.channel, send.row_id)
        statement = mark_sent_statement(send.row_id, sent.platform_message_id, now_utc())
        await self._record_sent(send.row_id, statement)
        await self._ended(send, "sent", None)
        return True

    async def _rate_limited(self, item: QueuedReply, e: RateLimited) -> bool | None:
        """A 429: wait as long as the platform says (in memory, or deferred to the sweeper)."""
        send = item.send
        wait = e.retry_after if e.retry_after is not None else DEFAULT_RETRY_AFTER
        self._metrics.sent.labels(channel=send.channel, result="rate_limited").inc()
        log.warning(
            "%s rate limited for %s; retry in %.1fs", send.channel, _mask(send.recipient_id), wait
        )
        # The platform says when to come back: not a failed attempt. A reply is given up
        # only when its rate-limit waits add up past `max_retry_after`.
        item.rate_limited_for += wait
        if item.rate_limited_for > self._policy.max_retry_after:
            return await self._retry(item, wait, str(e), give_up=True, cause="rate_limited")
        wait = min(wait, self._policy.max_retry_after)
        return await self._retry(item, wait, str(e), count=False, cause="rate_limited")

    async def _transient(self, item: QueuedReply, e: TransientSendError) -> bool | None:
        """A 5xx or a timeout: a failed attempt, retried after an exponential backoff."""
        send = item.send
        self._metrics.sent.labels(channel=send.channel, result="transient").inc()
        backoff = self._policy.base_backoff * 2 ** (item.attempt - 1)
        wait = min(backoff, MAX_BACKOFF) * (1 + random.random() / 4)
        log.warning(
            "%s send failed (%s); attempt %d, retry in %.1fs", send.channel, e, item.attempt, wait
        )
        return await self._retry(item, wait, str(e), cause="server_error")

    async def _record_sent(self, row_id: int, statement: Any) -> None:
        """Mark the reply sent, retrying while the database is unreachable: the platform has
        it, and a reply left pending would be sent again once the database is back."""
        delay = 0.1
        while True:
            try:
                await self._db.run(partial(_execute, statement))
                return
            except Exception as e:
                # asyncpg's connect during a restart raises the socket's own error, unwrapped
                if not (is_outage(e) or isinstance(e, OSError)):
                    raise
                log.warning(
                    "reply %d was sent; recording that waits for the database: %s", row_id, e
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _retry(
        self,
        item: QueuedReply,
        wait: float,
        error: str,
        *,
        count: bool = True,
        give_up: bool = False,
        cause: str,
    ) -> bool | None:
        """None: send again after the wait; else what `deliver` returns (deferred/given up)."""
        verdict = await self._wait_or_defer(
            item, wait, error, count=count, give_up=give_up, cause=cause
        )
        return None if verdict == "retry" else verdict == "next"

    async def _wait_or_defer(
        self,
        item: QueuedReply,
        wait: float,
        error: str,
        *,
        count: bool = True,
        give_up: bool = False,
        cause: str,
    ) -> Literal["retry", "next", "defer"]:
        """Wait in memory and retry, give up (next reply), or defer the lane to the sweeper.

        ``count``: the wait follows a failed attempt (5xx, timeout), which counts towards
        `max_attempts`; a rate limit does not. ``cause``: the failure's metric label."""
        if count:
            item.attempt += 1
        if give_up or item.attempt > self._policy.max_attempts:
            log.error(
                "reply %d gave up after %d attempts: %s", item.send.row_id, item.attempt - 1, error
            )
            await self._fail(item.send, "failed", f"gave up: {error}", cause=cause)
            return "next"
        if wait > INLINE_WAIT_LIMIT:
            at = now_utc() + timedelta(seconds=wait)
            item.deferred_until = at
            async with self._db.transaction() as s:
                await MessageRepository(s).schedule_retry(item.send.row_id, at, error)
            log.info("reply %d deferred until %s", item.send.row_id, at.isoformat())
            return "defer"
        # The row stays held while we wait: `heartbeat` keeps other sweepers off it.
        await asyncio.sleep(wait)
        return "retry"

    async def _held_elsewhere(self, item: QueuedReply) -> float | None:
        """The reply is not ours to send: None when another process sent (or gave up on) it,
        else how long to wait before trying to claim it again (its holder's lease)."""
        async with self._db.session() as s:
            held = await MessageRepository(s).holder(item.send.row_id)
        if held is None or held[0] != "pending":
            log.info("reply %d was sent or settled by another process", item.send.row_id)
            return None
        until = held[2]
        left = (until - now_utc()).total_seconds() if until is not None else 0.0
        log.info(
            "reply %d is held by another process for %.1fs more; its chat's lane waits for it",
            item.send.row_id,
            max(left, 0.0),
        )
        return min(max(left, 0.05), self._policy.lease)

    async def _still_mine(self, item: QueuedReply) -> bool:
        """True when the row is still this process's to send, asking the database (and
        renewing the lease) unless that was confirmed within the last half lease.

        A process stopped past its lease (a VM pause, SIGSTOP) finds here that another
        process's sweeper has claimed the reply, and leaves it to that process. What stays
        open is a stall during the HTTP call itself: no platform offers an idempotency key.
        """
        now = time.monotonic()
        if item.confirmed_at is not None and now - item.confirmed_at < self._policy.lease / 2:
            return True
        at = now_utc()
        async with self._db.transaction() as s:
            mine = await MessageRepository(s).reclaim(
                item.send.row_id, self._owner, at, at + timedelta(seconds=self._policy.lease)
            )
        if mine:
            item.confirmed_at = now
        return mine

    async def _last_inbound(self, send: PendingSend) -> datetime | None:
        async with self._db.session() as s:
            identity = await CustomerRepository(s).identity(send.channel, send.recipient_id)
        return identity.last_inbound_at if identity is not None else None

    async def _fail(self, send: PendingSend, status: str, error: str, *, cause: str) -> None:
        async with self._db.transaction() as s:
            await MessageRepository(s).mark_failed(send.row_id, status, error)
            await record_delivery_failed(s, send.row_id, send.channel, cause, now_utc())
        self._metrics.reply_failed(send.channel, cause)
        await self._ended(send, status, error)

    async def _unreachable(self, send: PendingSend, error: str) -> None:
        async with self._db.transaction() as s:
            await CustomerRepository(s).set_reachable(send.channel, send.recipient_id, False)
            await MessageRepository(s).mark_failed(send.row_id, "undeliverable", error)
            await record_delivery_failed(s, send.row_id, send.channel, "unreachable", now_utc())
        self._metrics.reply_failed(send.channel, "unreachable")
        await self._ended(send, "undeliverable", error)

    async def _ended(self, send: PendingSend, status: str, error: str | None) -> None:
        """Tell the listeners, after the outcome is committed; never let them stop the lane."""
        for listener in self.listeners:
            try:
                await listener(send.row_id, send.message.sender, status, error)
            except Exception:
                log.exception("delivery listener failed for reply %d (%s)", send.row_id, status)


def _execute(statement: Any, session: Session) -> None:
    session.execute(statement)


def _mask(value: str) -> str:
    return value if len(value) <= 4 else "…" + value[-4:]
