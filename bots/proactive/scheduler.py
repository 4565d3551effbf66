"""The scheduler: due proactive jobs → decisions → messages handed to the outbox, exactly once.

Every worker process runs one (`bots.app`, roles "all" and "worker"). Each round it claims a
batch of due jobs with a lease (`ProactiveRepository.claim_due`: disjoint between processes),
then decides each job in one transaction that starts by re-checking the claim
(`ProactiveRepository.hold`): a process that stalled past its lease (a SIGSTOP, a VM pause)
finds the job gone to another process and writes nothing. The decision row, the job's new
state and, for `sent`, the transcript row (a pending reply held by this process's outbox)
commit together; the outbox sends it after the commit, and if this process dies before it
does, any process's outbox sweeper sends it once the send lease ends. A process killed between
claim and commit leaves the job to be claimed again when the claim's lease ends.

Due times follow the bot's clock (`bots.flows.clock.Clock`, which tests advance); leases the
real clock, like the outbox's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from bots.messages import OutboundMessage, PendingSend, encode_outbound, now_utc
from bots.proactive.policy import BookingFacts, Facts, Verdict, decide, over_cap
from bots.proactive.scenarios import Scenarios
from bots.worker.outbox import Outbox
from storage.backends import Backends
from storage.db import Database
from storage.errors import StaleSession, StorageError
from storage.models import Customer
from storage.proactive_models import ProactiveJob
from storage.repositories.conversations import ConversationRepository
from storage.repositories.messages import MessageRepository
from storage.repositories.proactive import ProactiveRepository

__all__ = ["Scan", "Scheduler"]

log = logging.getLogger(__name__)

#: A periodic look for time-based triggers that are not rows yet (silence): called with the
#: bot's "now" once per round.
Scan = Callable[[datetime], Awaitable[Any]]
SESSION_LOCK_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class _Sent:
    job: ProactiveJob
    message_id: int
    verdict: Verdict
    held_from: float  # monotonic: when the reply's send lease was taken
    now: datetime


class Scheduler:
    """Claims and decides due proactive jobs; see the module's docstring."""

    def __init__(
        self,
        *,
        db: Database,
        scenarios: Scenarios,
        outbox: Outbox,
        clock: Callable[[], datetime],
        channels: Collection[str],
        timezone: str,
        default_language: str,
        backends: Backends | None = None,
        lease: float = 30.0,
        batch: int = 200,
        concurrency: int = 8,
        send_lease: float = 30.0,
        owner: str | None = None,
        max_in_flight: int | None = None,
        after_claim: Callable[[list[int]], Awaitable[None]] | None = None,
    ) -> None:
        self.owner = owner or f"sched-{uuid.uuid4().hex[:12]}"
        self.db = db
        self.scenarios = scenarios
        self.outbox = outbox
        self.clock = clock
        self.channels = frozenset(channels)
        self.timezone = timezone
        self.default_language = default_language
        self.backends = backends
        self.lease = timedelta(seconds=lease)
        self.batch = batch
        self.send_lease = timedelta(seconds=send_lease)
        # Backpressure: no new claims while this many messages wait in the outbox's lanes, so
        # a burst (100,000 reminders due at 09:00) is decided about as fast as it can be sent,
        # not hours ahead of its sending (with quiet hours and caps read long before).
        self.max_in_flight = max_in_flight if max_in_flight is not None else max(1000, 5 * batch)
        self._concurrency = asyncio.Semaphore(concurrency)
        # a test seam: runs after a batch is claimed and before it is decided
        self._after_claim = after_claim
        self.scans: list[Scan] = []
        self._wanted = 0  # how many the last round tried to claim (0: the outbox was full)
        self.decided: dict[str, int] = {}  # decision -> count, in this process

    def add_scan(self, scan: Scan) -> None:
        """Run ``scan(now)`` once per round (P2's silence trigger, for example)."""
        self.scans.append(scan)

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Rounds until ``stop``: a full claim is followed by the next at once, a round held
        back by a full outbox by another soon, else a pause of ``interval`` (at most a quarter
        of the lease)."""
        interval = min(interval, self.lease.total_seconds() / 4)
        while not stop.is_set():
            self._wanted = 0
            claimed = 0
            try:
                claimed = await self.tick()
                await self._scan()
            except Exception:
                log.exception("proactive scheduler round failed; will try again")
            if self._wanted and claimed >= self._wanted:
                continue  # there may be more due
            pause = interval if self._wanted else min(interval, 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)

    async def tick(self) -> int:
        """One round: claim due jobs and decide them (a customer's jobs one after another,
        customers side by side). Returns how many were claimed."""
        self._wanted = max(0, min(self.batch, self.max_in_flight - self.outbox.in_flight))
        if self._wanted <= 0:
            return 0
        real = now_utc()
        async with self.db.transaction() as s:
            jobs = await ProactiveRepository(s).claim_due(
                self.clock(),
                owner=self.owner,
                real_now=real,
                lease_until=real + self.lease,
                limit=self._wanted,
            )
        if not jobs:
            return 0
        if self._after_claim is not None:
            await self._after_claim([j.id for j in jobs])
        by_customer: dict[int, list[int]] = {}
        for job in jobs:
            by_customer.setdefault(job.customer_id, []).append(job.id)
        await asyncio.gather(*(self._customer(ids) for ids in by_customer.values()))
        return len(jobs)

    async def _scan(self) -> None:
        for scan in self.scans:
            try:
                await scan(self.clock())
            except Exception:
                log.exception("proactive scan %r failed", scan)

    async def _customer(self, job_ids: list[int]) -> None:
        async with self._concurrency:
            for job_id in job_ids:
                try:
                    await self.process(job_id)
                except Exception:
                    # The claim stays until its lease ends; then this job is tried again.
                    log.exception("deciding proactive job %d failed", job_id)

    async def process(self, job_id: int) -> str | None:
        """Decide one claimed job and, when sent, hand its message to the outbox. Returns the
        decision, or None when the job was no longer this process's to decide."""
        sent = await self._decide(job_id)
        if not isinstance(sent, _Sent):
            return sent
        verdict = sent.verdict
        assert verdict.channel is not None and verdict.external_id is not None
        assert verdict.message is not None
        self.outbox.dispatch(
            PendingSend(
                sent.message_id,
                verdict.channel,
                verdict.external_id,
                verdict.message,
                claimed_at=sent.held_from,
            ),
            last_inbound_at=verdict.last_inbound_at,
        )
        await self._remember(sent)
        return "sent"

    async def _decide(self, job_id: int) -> _Sent | str | None:
        held_from, real, now = time.monotonic(), now_utc(), self.clock()
        async with self.db.transaction() as s:
            repo = ProactiveRepository(s)
            job = await repo.hold(job_id, self.owner, real)
            if job is None:
                log.info("proactive job %d is no longer ours (its lease ran out)", job_id)
                return None
            customer = await repo.lock_customer(job.customer_id)
            assert customer is not None  # the job's foreign key cascades
            verdict = decide(self.scenarios, await self._facts(repo, job, customer, now))
            if verdict.decision == "send":
                count = partial(repo.count_sent, job.customer_id, job.topic)
                capped = await over_cap(self.scenarios.topic(job.topic), now, count)
                if capped is not None:
                    verdict = Verdict("capped", capped)
            if verdict.decision != "send":
                await repo.decide(
                    job, verdict.decision, verdict.reason, now, defer_to=verdict.defer_to
                )
                self._count(verdict.decision)
                return verdict.decision
            message_id = await self._store(s, job, verdict, now, real)
            await repo.decide(
                job, "sent", verdict.reason, now, channel=verdict.channel, message_id=message_id
            )
        self._count("sent")
        return _Sent(job, message_id, verdict, held_from, now)

    async def _facts(
        self, repo: ProactiveRepository, job: ProactiveJob, customer: Customer, now: datetime
    ) -> Facts:
        consents = {
            topic: (row.granted, row.at)
            for topic, row in (await repo.latest_consents(customer.id)).items()
        }
        booking: BookingFacts | None = None
        reference = (job.variables or {}).get("booking")
        if reference:
            row = await repo.booking(str(reference))
            if row is not None:
                booking = BookingFacts(row.status, row.starts_at)
        return Facts(
            scenario=job.scenario,
            step=job.step,
            topic=job.topic,
            due_at=job.due_at,
            expires_at=job.expires_at,
            variables=job.variables or {},
            now=now,
            timezone=customer.timezone or self.timezone,
            language=customer.language or self.default_language,
            display_name=customer.display_name,
            last_channel=customer.last_channel,
            identities=await repo.identities(customer.id),
            running=self.channels,
            consents=consents,
            booking=booking,
        )

    async def _store(
        self, s: Any, job: ProactiveJob, verdict: Verdict, now: datetime, real: datetime
    ) -> int:
        """The transcript row of a sent message: pending, held by this process's outbox."""
        assert verdict.message is not None and verdict.channel and verdict.external_id
        conversation = await ConversationRepository(s).current_or_new(job.customer_id, now)
        row = await MessageRepository(s).add_outbound(
            job.customer_id,
            conversation.id,
            verdict.channel,
            verdict.external_id,
            "bot",
            verdict.message.text,
            _body(verdict.message, job),
            None,
            now,
            due_at=real + self.send_lease,
        )
        row.claimed_by = self.outbox.owner
        await s.flush()
        return row.id

    async def _remember(self, sent: _Sent) -> None:
        """Best effort: the customer's session learns of the message, so their reply is read
        in its light (``session.data["proactive"]``)."""
        if self.backends is None:
            return
        job = sent.job
        context = {
            "job_id": job.id,
            "scenario": job.scenario,
            "step": job.step,
            "occurrence": job.occurrence,
            "variables": dict(job.variables or {}),
            "message_id": sent.message_id,
            "at": sent.now.isoformat(),
        }
        try:
            async with self.backends.locks.hold(job.customer_id, SESSION_LOCK_TIMEOUT):
                for _ in range(3):
                    session = await self.backends.sessions.get(job.customer_id)
                    session.data["proactive"] = context
                    try:
                        await self.backends.sessions.save(session)
                        return
                    except StaleSession:
                        continue
        except (StorageError, TimeoutError) as e:
            log.info("proactive job %d: session not updated (%s)", job.id, e)

    def _count(self, decision: str) -> None:
        self.decided[decision] = self.decided.get(decision, 0) + 1


def _body(message: OutboundMessage, job: ProactiveJob) -> dict[str, Any]:
    body = encode_outbound(message)
    body["proactive"] = {"job_id": job.id, "scenario": job.scenario, "step": job.step}
    return body
