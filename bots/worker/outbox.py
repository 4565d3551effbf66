"""Sending stored replies: per-chat order, the sweeper, the send lease.

Replies are stored (status `pending`) before the inbound message is acked, so sending can
fail, wait or crash without losing anything: a sweeper re-claims due rows from the database.
Each (channel, chat) has its own ordered lane, so a 429 or a slow platform for one customer
never blocks another. One reply's sending (retries, rate-limit waits, outcomes) is
`bots.worker.reply_sender`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from bots.channels.base import Channel
from bots.logs import correlated
from bots.messages import PendingSend, decode_outbound, now_utc
from bots.metrics import Metrics
from bots.worker.reply_sender import DeliveryListener, QueuedReply, ReplySender, SendPolicy
from storage.db import Database
from storage.loops import every
from storage.repositories.messages import MessageRepository

__all__ = ["DeliveryListener", "Outbox", "PendingSend"]

log = logging.getLogger(__name__)

#: at shutdown, after the grace: how long a send already on its way gets for its answer before
#: it is handed back too (handing back a send the platform took makes another process send it
#: again: the customer would read it twice)
IN_FLIGHT_WAIT = 1.0


class Outbox:
    """The replies this process sends: a lane per chat, the sweeper that claims due rows, the
    heartbeat that keeps the held ones' leases, and the hand-back at shutdown."""

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
        self._lease = lease
        policy = SendPolicy(max_attempts, max_retry_after, base_backoff, lease)
        self._sender = ReplySender(
            db, channels, metrics, policy, owner=self.owner, rate_limits=rate_limits
        )
        self._lanes: dict[tuple[str, str], asyncio.Queue[QueuedReply]] = {}
        self._lane_tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._queued: dict[int, QueuedReply] = {}
        self._closing = False  # shutdown: lanes take no next reply

    def on_delivery(self, listener: DeliveryListener) -> None:
        """Call ``listener`` whenever a reply this process sends is sent or given up on (the
        handoff package reports an agent's reply to the console and the webhook)."""
        self._sender.listeners.append(listener)

    # ---- entry points --------------------------------------------------------------------------

    def dispatch(self, send: PendingSend, *, last_inbound_at: datetime | None = None) -> None:
        """Queue a stored reply for sending on its chat's lane.

        A reply this process has just stored as its own (``send.claimed_at``) goes out without
        another look at the database; any other is claimed first (`ReplySender.deliver`)."""
        if send.row_id in self._queued:
            return  # already in a lane of this process (a redelivery repairing its own turn)
        confirmed = send.claimed_at
        self._enqueue(QueuedReply(send, last_inbound_at, confirmed_at=confirmed))

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
            self._enqueue(
                QueuedReply(send, None, attempt=row.attempts + 1, confirmed_at=claimed_at)
            )
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

        async def one_round() -> None:
            await self.heartbeat()
            await self.sweep()

        await every(min(interval, self._lease / 4), one_round, stop, name="outbox sweep")

    async def drain(self, grace: float = 10.0) -> None:
        """Wait up to ``grace`` s for queued sends to finish (shutdown). What is left stays
        pending in the database, handed back at once: due now, in the order it was stored,
        so another process's sweeper sends it without waiting for this one's lease to end."""
        tasks = list(self._lane_tasks.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        self._closing = True  # each lane finishes the send on its way and takes no next one
        if pending:  # those sends get up to IN_FLIGHT_WAIT to learn whether the platform took them
            _, pending = await asyncio.wait(pending, timeout=IN_FLIGHT_WAIT)
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

    def _enqueue(self, item: QueuedReply) -> None:
        key = (item.send.channel, item.send.recipient_id)
        self._queued[item.send.row_id] = item
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = asyncio.Queue()
        lane.put_nowait(item)
        if key not in self._lane_tasks:
            self._lane_tasks[key] = asyncio.create_task(self._run_lane(key, lane))

    async def _run_lane(self, key: tuple[str, str], lane: asyncio.Queue[QueuedReply]) -> None:
        try:
            while not lane.empty() and not self._closing:
                item = lane.get_nowait()
                keep_going = await self._deliver(item)
                if not keep_going:
                    await self._defer_rest(lane, item.deferred_until)
        finally:
            # never leave a reply held here that nothing will send (at shutdown `drain` hands
            # the rest back)
            while not lane.empty() and not self._closing:
                self._queued.pop(lane.get_nowait().send.row_id, None)
            self._lane_tasks.pop(key, None)
            self._lanes.pop(key, None)

    async def _deliver(self, item: QueuedReply) -> bool:
        """One reply of the lane; its log lines carry the id of the message it answers (none
        for an agent's or a proactive message), whichever turn started the lane."""
        with correlated(item.send.correlation_id):
            try:
                return await self._sender.deliver(item)
            except Exception:
                # Its row stays pending: no longer held here, a sweeper takes it once its
                # lease ends, and the chat's later replies are scheduled after that.
                log.exception("sending reply %d failed unexpectedly", item.send.row_id)
                item.deferred_until = now_utc() + timedelta(seconds=self._lease)
                return False
            finally:
                self._queued.pop(item.send.row_id, None)

    async def _defer_rest(self, lane: asyncio.Queue[QueuedReply], until: datetime | None) -> None:
        """Later replies of a chat whose earlier reply is deferred (or whose user is unreachable)
        are handed to the sweeper too, scheduled just after it, so they still arrive in order."""
        at = until or now_utc()
        rest: list[QueuedReply] = []
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
