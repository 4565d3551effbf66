"""The scheduler: due proactive jobs → decisions → messages handed to the outbox, exactly once.

Every worker process runs one (`bots.app`, roles "all" and "worker"). Each round it claims a
batch of due jobs with a lease (`ProactiveRepository.claim_due`: disjoint between processes),
then decides them in a few transactions (`bots.proactive.rounds.Round`, a customer's jobs all
in one), each of which starts by re-checking the claims: a process that stalled past its lease
(a SIGSTOP, a VM pause) finds its jobs gone to another process and writes nothing. The decision
rows, the jobs' new state and, for `sent`, the transcript rows (pending replies held by this
process's outbox) commit together; the outbox sends them after the commit, and if this process
dies before it does, any process's outbox sweeper sends them once the send lease ends. A
process killed between claim and commit leaves its jobs to be claimed again when the claim's
lease ends.

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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bots.messages import PendingSend, now_utc
from bots.proactive.rounds import Outcome, Round
from bots.proactive.scenarios import Scenarios
from bots.worker.outbox import Outbox
from storage.backends import Backends
from storage.db import Database
from storage.errors import StaleSession, StorageError
from storage.proactive_models import ProactiveJob
from storage.repositories.proactive import ProactiveRepository

__all__ = ["Scan", "Scheduler"]

log = logging.getLogger(__name__)

#: A periodic look for time-based triggers that are not rows yet (silence): called with the
#: bot's "now" once per round.
Scan = Callable[[datetime], Awaitable[Any]]
SESSION_LOCK_TIMEOUT = 2.0


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
        concurrency: int = 1,
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
        self.concurrency = concurrency
        self.round = Round(
            scenarios,
            channels=channels,
            timezone=timezone,
            default_language=default_language,
            owner=self.owner,
            outbox_owner=outbox.owner,
            send_lease=self.send_lease,
        )
        # a test seam: runs after a batch is claimed and before it is decided
        self._after_claim = after_claim
        self.scans: list[Scan] = []
        self._wanted = 0  # how many the last round tried to claim (0: the outbox was full)
        self.decided: dict[str, int] = {}  # decision -> count, in this process
        # the previous round's sessions being told of their messages, while this round decides
        self._remembering: asyncio.Task[None] | None = None

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
                claimed = await self._round()
                await self._scan()
            except Exception:
                log.exception("proactive scheduler round failed; will try again")
            if self._wanted and claimed >= self._wanted:
                continue  # there may be more due
            pause = interval if self._wanted else min(interval, 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)
        await self._remembered()

    async def tick(self) -> int:
        """One round: claim due jobs and decide them (a customer's jobs one after another,
        customers side by side), their sessions told. Returns how many were claimed."""
        claimed = await self._round()
        await self._remembered()
        return claimed

    async def _round(self) -> int:
        """`tick`, but the sessions of its messages are told while the next round runs."""
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
        groups = _groups(jobs, self.concurrency)
        decided = await asyncio.gather(*(self._group(ids) for ids in groups))
        # Telling the sessions runs beside the next round's claim and decisions (one round
        # behind at most): the messages are already in the outbox's lanes.
        await self._remembered()
        sent = [outcome for outcomes in decided for outcome in outcomes]
        if sent:
            self._remembering = asyncio.create_task(self._remember_all(sent))
        return len(jobs)

    async def _remembered(self) -> None:
        if self._remembering is not None:
            task, self._remembering = self._remembering, None
            try:
                await task
            except Exception:
                log.exception("proactive scheduler: telling sessions of their messages failed")

    async def _remember_all(self, sent: list[Outcome]) -> None:
        await asyncio.gather(*(self._remember(o) for o in sent))

    async def _scan(self) -> None:
        for scan in self.scans:
            try:
                await scan(self.clock())
            except Exception:
                log.exception("proactive scan %r failed", scan)

    async def _group(self, job_ids: list[int]) -> list[Outcome]:
        """Decide jobs together; if that fails, each on its own (one bad job cannot hold up
        the others), and a job that fails on its own for a reason other than the database is
        dropped with that reason (else its claim ends and it is tried again). Returns the
        outcomes that became messages, already handed to the outbox."""
        try:
            held_from, outcomes = await self._decide(job_ids)
        except Exception as e:
            if len(job_ids) > 1:
                log.warning("deciding %d proactive jobs failed (%r); one by one", len(job_ids), e)
                return [o for job_id in job_ids for o in await self._group([job_id])]
            if isinstance(e, SQLAlchemyError | StorageError):
                log.warning(
                    "proactive job %d: %r; its claim ends and it is tried again", job_ids[0], e
                )
            else:
                log.exception("proactive job %d cannot be decided; dropped", job_ids[0])
                await self._drop(job_ids[0], f"error: {e!r}")
            return []
        sent = [o for o in outcomes if o.message_id is not None]
        for outcome in outcomes:
            self._count("sent" if outcome.message_id is not None else outcome.verdict.decision)
        for outcome in sent:
            self._dispatch(outcome, held_from)
        return sent

    async def _decide(self, job_ids: list[int]) -> tuple[float, list[Outcome]]:
        held_from, real, now = time.monotonic(), now_utc(), self.clock()
        async with self.db.transaction() as s:
            return held_from, await self.round.decide(s, job_ids, real, now)

    async def _drop(self, job_id: int, reason: str) -> None:
        try:
            async with self.db.transaction() as s:
                await self.round.drop(s, job_id, reason, now_utc(), self.clock())
        except Exception:
            log.exception("proactive job %d: recording its error failed", job_id)

    def _dispatch(self, outcome: Outcome, held_from: float) -> None:
        """Hand a stored message to the outbox, which holds it from ``held_from``."""
        verdict = outcome.verdict
        assert outcome.message_id is not None and verdict.message is not None
        assert verdict.channel is not None and verdict.external_id is not None
        self.outbox.dispatch(
            PendingSend(
                outcome.message_id,
                verdict.channel,
                verdict.external_id,
                verdict.message,
                claimed_at=held_from,
            ),
            last_inbound_at=verdict.last_inbound_at,
        )

    async def _remember(self, outcome: Outcome) -> None:
        """Best effort: the customer's session learns of the message, so their reply is read
        in its light (``session.data["proactive"]``)."""
        if self.backends is None:
            return
        job = outcome.job
        context = {
            "job_id": job.id,
            "scenario": job.scenario,
            "step": job.step,
            "occurrence": job.occurrence,
            "variables": dict(job.variables or {}),
            "message_id": outcome.message_id,
            "at": self.clock().isoformat(),
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


def _groups(jobs: list[ProactiveJob], n: int) -> list[list[int]]:
    """The jobs in at most ``n`` groups, all of a customer's in one (in due order)."""
    by_customer: dict[int, list[int]] = {}
    for job in jobs:
        by_customer.setdefault(job.customer_id, []).append(job.id)
    groups: list[list[int]] = [[] for _ in range(min(n, len(by_customer)))]
    for i, ids in enumerate(by_customer.values()):
        groups[i % len(groups)].extend(ids)
    return groups
