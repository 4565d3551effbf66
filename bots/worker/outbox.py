"""Sending stored replies: per-chat order, retries, rate-limit waits, unreachable users.

Replies are stored (status `pending`) before the inbound message is acked, so sending can
fail, wait or crash without losing anything: a sweeper re-claims due rows from the database.
Each (channel, chat) has its own ordered lane, so a 429 or a slow platform for one customer
never blocks another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
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
from bots.messages import decode_outbound, now_utc
from bots.metrics import Metrics
from bots.worker.turn import PendingSend
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
class _Item:
    send: PendingSend
    last_inbound_at: datetime | None
    attempt: int = 1
    deferred_until: datetime | None = None
    # monotonic time at which the row was last known to be this process's to send (None:
    # not known; `_still_mine` asks the database before the first send)
    confirmed_at: float | None = None
    rate_limited_for: float = 0.0  # seconds of waits the platform asked for (429s)


class Outbox:
    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        metrics: Metrics,
        *,
        max_attempts: int = 8,
        max_retry_after: float = 3600.0,
        base_backoff: float = 0.5,
        lease: float = 30.0,
        rate_limits: bool = True,
        owner: str | None = None,
    ) -> None:
        #: written into ``messages.claimed_by`` of the replies this outbox holds
        self.owner = owner or uuid.uuid4().hex[:16]
        self._db = db
        self._channels = channels
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._max_retry_after = max_retry_after
        self._base_backoff = base_backoff
        self._lease = lease
        # Each platform's declared pace (Telegram ~1/s per chat, 30/s overall...): a burst
        # waits its turn in the chat's lane instead of being refused with 429s.
        self._limiters = {
            name: RateLimiter.from_limits(channel.limits, per_chat_burst=BURST)
            for name, channel in channels.items()
            if rate_limits
            and (channel.limits.per_chat_rate is not None or channel.limits.global_rate is not None)
        }
        self._lanes: dict[tuple[str, str], asyncio.Queue[_Item]] = {}
        self._lane_tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._queued: dict[int, _Item] = {}
        self._listeners: list[DeliveryListener] = []

    def on_delivery(self, listener: DeliveryListener) -> None:
        """Call ``listener`` whenever a reply this process sends is sent or given up on (the
        handoff package reports an agent's reply to the console and the webhook)."""
        self._listeners.append(listener)

    # ---- entry points --------------------------------------------------------------------------

    def dispatch(self, send: PendingSend, *, last_inbound_at: datetime | None = None) -> None:
        """Queue a stored reply for sending on its chat's lane.

        A reply this process has just stored as its own (``send.claimed_at``) goes out without
        another look at the database; any other is claimed first (`_still_mine`)."""
        if send.row_id in self._queued:
            return  # already in a lane of this process (a redelivery repairing its own turn)
        confirmed = send.claimed_at
        self._enqueue(_Item(send, last_inbound_at, confirmed_at=confirmed))

    async def sweep(self, limit: int = 200) -> int:
        """Claim due pending rows (left by a crash or scheduled for later) and queue them."""
        claimed_at, now = time.monotonic(), now_utc()  # the lease runs from here
        async with self._db.transaction() as s:
            rows = await MessageRepository(s).claim_due_outbound(
                now, self._lease, limit, claimed_by=self.owner
            )
        count = 0
        for row in rows:
            if row.id in self._queued or not row.body:
                continue
            send = PendingSend(row.id, row.channel, row.external_user_id, decode_outbound(row.body))
            self._enqueue(_Item(send, None, attempt=row.attempts + 1, confirmed_at=claimed_at))
            count += 1
        return count

    async def heartbeat(self) -> int:
        """Renew the lease of every reply this process holds in a lane (waiting for its turn,
        its rate limit or a retry), so no other process's sweeper sends it a second time."""
        held = list(self._queued)
        if not held:
            return 0
        started = time.monotonic()
        until = now_utc() + timedelta(seconds=self._lease)
        async with self._db.transaction() as s:
            extended = await MessageRepository(s).extend_leases(held, until, self.owner)
        if extended == len(held):  # all still ours: no need to ask again before sending
            for row_id in held:
                item = self._queued.get(row_id)
                if item is not None:
                    item.confirmed_at = started
        return extended

    async def run_sweeper(self, stop: asyncio.Event, interval: float = 2.0) -> None:
        """Every `interval` (at most a quarter of the lease): renew held leases, then claim
        due rows left by a dead process or scheduled for later."""
        interval = min(interval, self._lease / 4)
        while not stop.is_set():
            try:
                await self.heartbeat()
                await self.sweep()
            except Exception:
                log.exception("outbox sweep failed; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def drain(self, grace: float = 10.0) -> None:
        """Wait up to ``grace`` s for queued sends to finish (shutdown). What is left stays
        pending in the database, handed back at once: due now, in the order it was stored,
        so another process's sweeper sends it without waiting for this one's lease to end."""
        tasks = list(self._lane_tasks.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        left = sorted(self._queued)  # row ids grow in storing order, so a chat's stay in order
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if not left:
            return
        at = now_utc()
        try:
            async with self._db.transaction() as s:
                repo = MessageRepository(s)
                for i, row_id in enumerate(left):  # only rows still pending and still ours
                    due = at + timedelta(milliseconds=i)
                    await repo.reclaim(row_id, self.owner, at, due)
        except Exception as e:  # the database is gone too: the leases run out instead
            log.warning("outbox: handing back %d unsent replies failed: %s", len(left), e)
            return
        log.info("outbox: %d unsent replies left for another process's sweeper", len(left))

    @property
    def in_flight(self) -> int:
        return len(self._queued)

    # ---- lanes -----------------------------------------------------------------------------------

    def _enqueue(self, item: _Item) -> None:
        key = (item.send.channel, item.send.recipient_id)
        self._queued[item.send.row_id] = item
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = asyncio.Queue()
        lane.put_nowait(item)
        if key not in self._lane_tasks:
            self._lane_tasks[key] = asyncio.create_task(self._run_lane(key, lane))

    async def _run_lane(self, key: tuple[str, str], lane: asyncio.Queue[_Item]) -> None:
        try:
            while not lane.empty():
                item = lane.get_nowait()
                try:
                    keep_going = await self._deliver(item)
                except Exception:
                    # Its row stays pending: no longer held here, a sweeper takes it once its
                    # lease ends, and the chat's later replies are scheduled after that.
                    log.exception("sending reply %d failed unexpectedly", item.send.row_id)
                    keep_going = False
                    item.deferred_until = now_utc() + timedelta(seconds=self._lease)
                finally:
                    self._queued.pop(item.send.row_id, None)
                if not keep_going:
                    await self._defer_rest(lane, item.deferred_until)
        finally:
            while not lane.empty():  # never leave a reply held here that nothing will send
                self._queued.pop(lane.get_nowait().send.row_id, None)
            self._lane_tasks.pop(key, None)
            self._lanes.pop(key, None)

    async def _defer_rest(self, lane: asyncio.Queue[_Item], until: datetime | None) -> None:
        """Later replies of a chat whose earlier reply is deferred (or whose user is unreachable)
        are handed to the sweeper too, scheduled just after it, so they still arrive in order."""
        at = until or now_utc()
        rest: list[_Item] = []
        while not lane.empty():
            rest.append(lane.get_nowait())
        if not rest:
            return
        async with self._db.transaction() as s:
            repo = MessageRepository(s)
            for i, item in enumerate(rest, start=1):
                await repo.schedule_retry(
                    item.send.row_id, at + timedelta(milliseconds=i), "waiting for an earlier reply"
                )
        for item in rest:
            self._queued.pop(item.send.row_id, None)

    async def _deliver(self, item: _Item) -> bool:
        """Send one row with inline retries. False: the lane must stop (deferred/unreachable)."""
        send = item.send
        channel = self._channels.get(send.channel)
        if channel is None:
            await self._fail(send, "failed", f"channel {send.channel!r} is not configured")
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

    async def _send_once(self, item: _Item, channel: Channel, context: SendContext) -> bool | None:
        """One call to the platform: what `_deliver` returns, or None to send again."""
        send = item.send
        try:
            sent = await channel.send(send.recipient_id, send.message, context)
        except RateLimited as e:
            wait = e.retry_after if e.retry_after is not None else DEFAULT_RETRY_AFTER
            self._metrics.sent.labels(channel=send.channel, result="rate_limited").inc()
            log.warning(
                "%s rate limited for %s; retry in %.1fs",
                send.channel,
                _mask(send.recipient_id),
                wait,
            )
            # The platform says when to come back: not a failed attempt. A reply is given up
            # only when its rate-limit waits add up past `max_retry_after`.
            item.rate_limited_for += wait
            if item.rate_limited_for > self._max_retry_after:
                return await self._retry(item, wait, str(e), give_up=True)
            return await self._retry(item, min(wait, self._max_retry_after), str(e), count=False)
        except TransientSendError as e:
            self._metrics.sent.labels(channel=send.channel, result="transient").inc()
            backoff = self._base_backoff * 2 ** (item.attempt - 1)
            wait = min(backoff, MAX_BACKOFF) * (1 + random.random() / 4)
            log.warning(
                "%s send failed (%s); attempt %d, retry in %.1fs",
                send.channel,
                e,
                item.attempt,
                wait,
            )
            return await self._retry(item, wait, str(e))
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
            await self._fail(send, "undeliverable", str(e))
            return True
        except (PermanentSendError, SendError) as e:
            self._metrics.sent.labels(channel=send.channel, result="failed").inc()
            log.error("%s reply %d rejected by the platform: %s", send.channel, send.row_id, e)
            await self._fail(send, "failed", str(e))
            return True
        self._metrics.sent.labels(channel=send.channel, result="sent").inc()
        statement = mark_sent_statement(send.row_id, sent.platform_message_id, now_utc())
        await self._record_sent(send.row_id, statement)
        await self._ended(send, "sent", None)
        return True

    async def _record_sent(self, row_id: int, statement: Any) -> None:
        """Mark the reply sent, retrying while the database is unreachable: the platform has
        it, and a reply left pending would be sent again once the database is back."""
        delay = 0.1
        while True:
            try:
                await self._db.run(partial(_execute, statement))
                return
            except Exception as e:
                if not is_outage(e):
                    raise
                log.warning(
                    "reply %d was sent; recording that waits for the database: %s", row_id, e
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _retry(
        self, item: _Item, wait: float, error: str, *, count: bool = True, give_up: bool = False
    ) -> bool | None:
        """None: send again after the wait; else what `_deliver` returns (deferred/given up)."""
        verdict = await self._wait_or_defer(item, wait, error, count=count, give_up=give_up)
        return None if verdict == "retry" else verdict == "next"

    async def _wait_or_defer(
        self, item: _Item, wait: float, error: str, *, count: bool = True, give_up: bool = False
    ) -> Literal["retry", "next", "defer"]:
        """Wait in memory and retry, give up (next reply), or defer the lane to the sweeper.

        ``count``: the wait follows a failed attempt (5xx, timeout), which counts towards
        `max_attempts`; a rate limit does not."""
        if count:
            item.attempt += 1
        if give_up or item.attempt > self._max_attempts:
            log.error(
                "reply %d gave up after %d attempts: %s", item.send.row_id, item.attempt - 1, error
            )
            await self._fail(item.send, "failed", f"gave up: {error}")
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

    async def _held_elsewhere(self, item: _Item) -> float | None:
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
        return min(max(left, 0.05), self._lease)

    async def _still_mine(self, item: _Item) -> bool:
        """True when the row is still this process's to send, asking the database (and
        renewing the lease) unless that was confirmed within the last half lease.

        A process stopped past its lease (a VM pause, SIGSTOP) finds here that another
        process's sweeper has claimed the reply, and leaves it to that process. What stays
        open is a stall during the HTTP call itself: no platform offers an idempotency key.
        """
        now = time.monotonic()
        if item.confirmed_at is not None and now - item.confirmed_at < self._lease / 2:
            return True
        at = now_utc()
        async with self._db.transaction() as s:
            mine = await MessageRepository(s).reclaim(
                item.send.row_id, self.owner, at, at + timedelta(seconds=self._lease)
            )
        if mine:
            item.confirmed_at = now
        return mine

    async def _last_inbound(self, send: PendingSend) -> datetime | None:
        async with self._db.session() as s:
            identity = await CustomerRepository(s).identity(send.channel, send.recipient_id)
        return identity.last_inbound_at if identity is not None else None

    async def _fail(self, send: PendingSend, status: str, error: str) -> None:
        async with self._db.transaction() as s:
            await MessageRepository(s).mark_failed(send.row_id, status, error)
        await self._ended(send, status, error)

    async def _unreachable(self, send: PendingSend, error: str) -> None:
        async with self._db.transaction() as s:
            await CustomerRepository(s).set_reachable(send.channel, send.recipient_id, False)
            await MessageRepository(s).mark_failed(send.row_id, "undeliverable", error)
        await self._ended(send, "undeliverable", error)

    async def _ended(self, send: PendingSend, status: str, error: str | None) -> None:
        """Tell the listeners, after the outcome is committed; never let them stop the lane."""
        for listener in self._listeners:
            try:
                await listener(send.row_id, send.message.sender, status, error)
            except Exception:
                log.exception("delivery listener failed for reply %d (%s)", send.row_id, status)


def _execute(statement: Any, session: Session) -> None:
    session.execute(statement)


def _mask(value: str) -> str:
    return value if len(value) <= 4 else "…" + value[-4:]
