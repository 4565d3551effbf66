"""Erasing a customer everywhere omnirelay keeps them, as one resumable job.

`Eraser.request` refuses a customer (or one of their tickets) under legal hold with
`LegalHoldRefused`, and otherwise returns the customer's unfinished job or a new one (an
``erasure_jobs`` row). `Eraser.run` works through `STEP_NAMES` from the job's ``step``: the
key-value backends, the SQL stores one transaction each (`bots.privacy.erasure_sql`) and the
NLU review log (before the transcript's step: it is matched on the texts the transcript still
has). The job's row is moved on in the same transaction as a SQL step (or right after a step
outside SQL, all of which are idempotent), so a crash resumes at the step it did not finish.
Then the signed ``customer.erased`` webhook (the help desk follows) and, in the job's last
transaction, the ``customer.erased`` audit entry. The receipt holds a count per store.

A run holds the customer's lock (`storage.locks`), so no turn of theirs runs in between and two
runners of one job take turns; the second finds it done.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bots.privacy.erasure_kv import erase_keys, erase_review_log
from bots.privacy.erasure_sql import SQL_STEPS, Subject, load_subject
from bots.privacy.export import customer_ids
from handoff.events import HandoffEvent
from handoff.models import Ticket
from handoff.webhook import WebhookSender
from storage.audit import record_audit
from storage.backends import Backends
from storage.db import Database
from storage.errors import NotFound
from storage.models import Customer, Message
from storage.repositories.privacy import (
    ErasureJob,
    finished_job_for,
    load_job,
    open_job_for,
)

__all__ = ["STEP_NAMES", "Eraser", "LegalHoldRefused", "WebhookTarget", "job_view"]

log = logging.getLogger(__name__)

SqlStep = Callable[[AsyncSession, Subject, dt.datetime], Awaitable[int]]


class LegalHoldRefused(Exception):
    """The customer, or one of their tickets, is under legal hold: nothing may be erased."""


class ErasureFailed(Exception):
    """A step could not finish; the job is left ``failed`` at that step, to be resumed."""


@dataclass(frozen=True)
class WebhookTarget:
    """Where the ``customer.erased`` event goes (the handoff webhook's URL and secret)."""

    url: str
    secret: str | None


#: The order of the steps. The review log is matched on the texts of the transcript, so it
#: goes before the transcript's step; everything that needs the chat ids and phones goes
#: before the profile's step (which replaces them).
STEP_NAMES = (
    "keys",
    "orders",
    "bookings",
    "review_log",
    "transcript",
    "inbox",
    "tickets",
    "proactive",
    "analytics",
    "links",
    "profile",
    "webhook",
)
assert set(STEP_NAMES) >= {name for name, _ in SQL_STEPS}


def job_view(job: ErasureJob) -> dict[str, Any]:
    """The job as the API and the CLI show it (the receipt is its ``receipt``)."""
    return {
        "id": job.id,
        "customer_id": job.customer_id,
        "state": job.state,
        "step": job.step,
        "steps": len(STEP_NAMES),
        "last_step": job.step_name,
        "next_step": STEP_NAMES[job.step] if job.step < len(STEP_NAMES) else None,
        "requested_by": job.requested_by,
        "requested_at": job.requested_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "attempts": job.attempts,
        "receipt": dict(job.receipt),
        "error": job.error,
    }


@dataclass
class Eraser:
    """Runs erasure jobs against one database and (when given) the key-value backends."""

    db: Database
    backends: Backends | None
    review_log: Path | None
    webhook: WebhookTarget | None
    clock: Callable[[], dt.datetime]
    lock_timeout: float = 30.0
    send_grace: float = 30.0

    async def request(self, customer_id: int, requested_by: str) -> ErasureJob:
        """The job erasing ``customer_id``: their unfinished one, the finished one of a customer
        erased already (`finished_job_for`), or a new one. Raises `NotFound` and
        `LegalHoldRefused`."""
        async with self.db.transaction() as s:
            ids = await customer_ids(s, customer_id)
            await _refuse_held(s, ids)
            job = await open_job_for(s, customer_id)
            if job is None and (done := await finished_job_for(s, customer_id)) is not None:
                log.info("customer %d was erased already (erasure %d)", customer_id, done.id)
                return done
            if job is None:
                job = ErasureJob(
                    customer_id=customer_id,
                    requested_by=requested_by,
                    requested_at=self.clock(),
                    state="pending",
                    step=0,
                    attempts=0,
                    receipt={},
                )
                s.add(job)
                await s.flush()
            return job

    async def run(self, job_id: int) -> ErasureJob:
        """Work the job through its remaining steps; returns it done, or ``failed`` at the
        step that raised (run it again to resume there)."""
        job = await self._load(job_id)
        if job.state == "done":
            return job
        if self.backends is None:
            return await self._steps(job_id)
        async with self.backends.locks.hold(job.customer_id, self.lock_timeout):
            await self._outbox_quiet(job.customer_id)
            return await self._steps(job_id)

    async def _outbox_quiet(self, customer_id: int) -> None:
        """Wait (at most `send_grace` seconds) until the customer's stored replies are sent:
        the chat's last message ("your data is being erased") is one of them. What is still
        pending after that is given up by the transcript step."""
        deadline = asyncio.get_running_loop().time() + self.send_grace
        delay = 0.05
        while asyncio.get_running_loop().time() < deadline:
            async with self.db.session() as s:
                ids = await customer_ids(s, customer_id)
                pending = await s.scalar(
                    select(Message.id)
                    .where(Message.customer_id.in_(ids), Message.status == "pending")
                    .limit(1)
                )
            if pending is None:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _load(self, job_id: int) -> ErasureJob:
        async with self.db.session() as s:
            job = await load_job(s, job_id)
        if job is None:
            raise NotFound(f"erasure {job_id} not found")
        return job

    async def _steps(self, job_id: int) -> ErasureJob:
        job = await self._begin(job_id)
        while job.state != "done":
            name = STEP_NAMES[job.step]
            try:
                job = await self._step(job, name)
            except Exception as e:  # any store's failure leaves the job resumable
                log.warning("erasure %d stopped at %s: %s", job_id, name, type(e).__name__)
                return await self._fail(job_id, f"{name}: {type(e).__name__}: {e}"[:500])
        await self._checkpoint()
        return job

    async def _checkpoint(self) -> None:
        """On SQLite the rows' earlier contents stay in the write-ahead log until it is copied
        back and emptied: do that now (best effort; readers in the way leave it to SQLite's
        next automatic checkpoint)."""
        if self.db.dialect != "sqlite":
            return
        try:
            async with self.db.session() as s:
                busy = (await s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).first()
        except Exception as e:
            log.warning("erasure: emptying SQLite's write-ahead log failed: %r", e)
            return
        if busy is not None and busy[0]:
            log.info("erasure: SQLite's write-ahead log is in use; it is emptied later")

    async def _begin(self, job_id: int) -> ErasureJob:
        async with self.db.transaction() as s:
            job = await load_job(s, job_id)
            assert job is not None
            if job.state != "done":
                job.state, job.error = "running", None
                job.attempts += 1
            return job

    async def _step(self, job: ErasureJob, name: str) -> ErasureJob:
        now = self.clock()
        sql: dict[str, SqlStep] = dict(SQL_STEPS)
        async with self.db.transaction() as s:
            who = await load_subject(s, job.customer_id, await customer_ids(s, job.customer_id))
            if name in sql:
                count = await sql[name](s, who, now)
                return await _advance(s, job.id, name, count, now)
        count = await self._outside_sql(name, who, job)
        async with self.db.transaction() as s:
            return await _advance(s, job.id, name, count, now)

    async def _outside_sql(self, name: str, who: Subject, job: ErasureJob) -> int:
        if name == "review_log":
            return await asyncio.to_thread(erase_review_log, self.review_log, who)
        if name == "keys":
            return 0 if self.backends is None else await erase_keys(self.backends, who)
        assert name == "webhook"
        return await self._notify(job)

    async def _notify(self, job: ErasureJob) -> int:
        """The signed ``customer.erased`` event; 0 when no webhook is configured."""
        if self.webhook is None:
            return 0
        sender = WebhookSender(self.webhook.url, self.webhook.secret, max_attempts=3)
        event = HandoffEvent(
            kind="customer.erased",
            ticket_id=0,
            customer_id=job.customer_id,
            data={"erasure_id": job.id, "receipt": dict(job.receipt)},
            id=f"customer.erased:{job.id}",
        )
        try:
            delivered = await sender.deliver(event)
        finally:
            await sender.drain()
        if not delivered:
            raise ErasureFailed(f"the help desk did not take customer.erased at {self.webhook.url}")
        return 1

    async def _fail(self, job_id: int, error: str) -> ErasureJob:
        """Leave the job ``failed`` with the error; when even that cannot be written (the
        database is gone) it stays ``running`` at its step and `ErasureFailed` is raised:
        either way a later run resumes it."""
        try:
            async with self.db.transaction() as s:
                job = await load_job(s, job_id)
                assert job is not None
                job.state, job.error = "failed", error
                return job
        except Exception as e:
            raise ErasureFailed(f"erasure {job_id}: {error}") from e


async def _refuse_held(s: AsyncSession, ids: list[int]) -> None:
    held = await s.scalar(
        select(Customer.id).where(Customer.id.in_(ids), Customer.legal_hold.is_(True)).limit(1)
    )
    if held is not None:
        raise LegalHoldRefused(f"customer {held} is under legal hold: nothing is erased")
    ticket = await s.scalar(
        select(Ticket.id).where(Ticket.customer_id.in_(ids), Ticket.legal_hold.is_(True)).limit(1)
    )
    if ticket is not None:
        raise LegalHoldRefused(f"ticket {ticket} is under legal hold: nothing is erased")


async def _advance(
    s: AsyncSession, job_id: int, name: str, count: int, now: dt.datetime
) -> ErasureJob:
    """Record a finished step (in the caller's transaction); the last one closes the job and
    leaves the audit entry."""
    job = await load_job(s, job_id)
    assert job is not None
    job.receipt = {**job.receipt, name: count}
    job.step, job.step_name = job.step + 1, name
    if job.step >= len(STEP_NAMES):
        job.state, job.finished_at = "done", now
        await record_audit(
            s,
            actor=job.requested_by,
            action="customer.erased",
            target_type="customer",
            target_id=job.customer_id,
            detail={"erasure_id": job.id, "steps": job.step},
        )
    return job
