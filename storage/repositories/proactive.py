"""Proactive jobs, their decisions and the consent log (`storage.proactive_models`).

A job is claimed by a scheduler with a lease (`claim_due`: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, SQLite serialises writers), then decided in one transaction that starts with
`hold`: only a job still scheduled and still under the caller's unexpired lease is returned
(and locked for the transaction), so a scheduler that stalled past its lease writes nothing.
Leases run on the real clock; due times and decisions on the bot's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Booking, ChannelIdentity, Customer
from storage.proactive_models import Consent, ProactiveDecision, ProactiveJob
from storage.repositories._sql import claim_first, insert_ignoring_conflicts

__all__ = ["JOB_KEY", "ProactiveRepository"]

JOBS = cast(Table, ProactiveJob.__table__)
JOB_KEY = ["customer_id", "scenario", "occurrence", "step"]


class ProactiveRepository:
    """Reads and writes proactive jobs, decisions and consents in the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ---- scheduling and cancelling -------------------------------------------------------------

    async def add_jobs(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert jobs; a row whose (customer, scenario, occurrence, step) exists is skipped.
        Returns how many were inserted."""
        stmt = insert_ignoring_conflicts(self.session, JOBS, JOB_KEY).returning(JOBS.c.id)
        inserted = 0
        for row in rows:
            if (await self.session.execute(stmt, row)).scalar() is not None:
                inserted += 1
        return inserted

    async def pending(
        self, customer_id: int, scenario: str | None = None, occurrence: str | None = None
    ) -> list[ProactiveJob]:
        """The customer's scheduled jobs (of one scenario / occurrence), by due time."""
        stmt = select(ProactiveJob).where(
            ProactiveJob.customer_id == customer_id, ProactiveJob.status == "scheduled"
        )
        if scenario is not None:
            stmt = stmt.where(ProactiveJob.scenario == scenario)
        if occurrence is not None:
            stmt = stmt.where(ProactiveJob.occurrence == occurrence)
        return list(await self.session.scalars(stmt.order_by(ProactiveJob.due_at, ProactiveJob.id)))

    async def cancel_jobs(self, jobs: Sequence[ProactiveJob], reason: str, now: dt.datetime) -> int:
        """End scheduled jobs as ``cancelled`` (one decision row each). A job a scheduler is
        deciding right now is waited for, and left alone if that ended it."""
        count = 0
        for job in jobs:
            result = await self.session.execute(
                update(ProactiveJob)
                .where(ProactiveJob.id == job.id, ProactiveJob.status == "scheduled")
                .values(status="cancelled", decision="cancelled", reason=reason, updated_at=now)
                .returning(ProactiveJob.id)
                .execution_options(synchronize_session=False)
            )
            if result.scalar() is None:
                continue
            count += 1
            self.session.add(_decision(job, "cancelled", reason, None, now))
        await self.session.flush()
        return count

    # ---- the schedulers' claim ---------------------------------------------------------------

    async def claim_due(
        self,
        now: dt.datetime,
        *,
        owner: str,
        real_now: dt.datetime,
        lease_until: dt.datetime,
        limit: int,
    ) -> list[ProactiveJob]:
        """Take up to ``limit`` jobs due at ``now`` (bot clock) whose lease is free at
        ``real_now``: they become ``owner``'s until ``lease_until``. Concurrent callers get
        disjoint jobs."""
        due = (
            ProactiveJob.status == "scheduled",
            ProactiveJob.due_at <= now,
            or_(ProactiveJob.lease_until.is_(None), ProactiveJob.lease_until <= real_now),
        )
        values = {
            "claimed_by": owner,
            "lease_until": lease_until,
            "attempts": ProactiveJob.attempts + 1,
        }
        order = (ProactiveJob.due_at, ProactiveJob.id)
        stmt = claim_first(self.session, ProactiveJob, due, order, limit, values)
        rows = list(await self.session.scalars(stmt))
        rows.sort(key=lambda j: (j.due_at, j.id))
        return rows

    async def hold(self, job_id: int, owner: str, real_now: dt.datetime) -> ProactiveJob | None:
        """The job, locked for this transaction, if it is still scheduled and ``owner``'s
        lease on it has not run out; None otherwise (write nothing then)."""
        result = await self.session.execute(
            update(ProactiveJob)
            .where(
                ProactiveJob.id == job_id,
                ProactiveJob.status == "scheduled",
                ProactiveJob.claimed_by == owner,
                ProactiveJob.lease_until > real_now,
            )
            .values(updated_at=real_now)
            .returning(ProactiveJob)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return result.scalar()

    async def release(self, job_id: int, owner: str) -> None:
        """Give a claimed, undecided job back at once (shutdown, a failed decision)."""
        await self.session.execute(
            update(ProactiveJob)
            .where(ProactiveJob.id == job_id, ProactiveJob.claimed_by == owner)
            .values(claimed_by=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    async def decide(
        self,
        job: ProactiveJob,
        decision: str,
        reason: str,
        now: dt.datetime,
        *,
        channel: str | None = None,
        message_id: int | None = None,
        defer_to: dt.datetime | None = None,
    ) -> None:
        """Record a decision on a held job: ``deferred`` keeps it scheduled (due ``defer_to``,
        lease released), any other ends it (``done``)."""
        values: dict[str, Any] = {
            "decision": decision,
            "reason": reason,
            "channel": channel,
            "claimed_by": None,
            "lease_until": None,
            "updated_at": now,
        }
        if decision == "deferred":
            if defer_to is None:
                raise ValueError("a deferred job needs the time it is deferred to")
            values["due_at"] = defer_to
        else:
            values["status"] = "done"
            values["message_id"] = message_id
        await self.session.execute(
            update(ProactiveJob)
            .where(ProactiveJob.id == job.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        self.session.add(_decision(job, decision, reason, channel, now))
        await self.session.flush()

    # ---- what decisions read ----------------------------------------------------------------

    async def lock_customer(self, customer_id: int) -> Customer | None:
        """The customer row, locked until commit (PostgreSQL): decisions about one customer
        (the frequency caps) are taken one at a time. SQLite serialises writers anyway."""
        return await self.session.scalar(
            select(Customer)
            .where(Customer.id == customer_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def identities(self, customer_id: int) -> list[ChannelIdentity]:
        return list(
            await self.session.scalars(
                select(ChannelIdentity)
                .where(ChannelIdentity.customer_id == customer_id)
                .order_by(ChannelIdentity.id)
            )
        )

    async def booking(self, reference: str) -> Booking | None:
        """The booking a reminder is about (None: not in this database, e.g. the business's
        own booking system keeps it)."""
        return await self.session.scalar(select(Booking).where(Booking.reference == reference))

    async def count_sent(self, customer_id: int, topic: str, since: dt.datetime) -> int:
        """Messages of ``topic`` sent to the customer after ``since``, on any channel."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(ProactiveDecision)
            .where(
                ProactiveDecision.customer_id == customer_id,
                ProactiveDecision.topic == topic,
                ProactiveDecision.decision == "sent",
                ProactiveDecision.at > since,
            )
        )
        return int(count or 0)

    # ---- consent -----------------------------------------------------------------------------

    async def add_consent(
        self,
        customer_id: int,
        *,
        topic: str,
        granted: bool,
        source: str,
        text: str,
        at: dt.datetime,
    ) -> Consent:
        """Append to the consent log and mirror the choice into ``customers.consent``."""
        row = Consent(
            customer_id=customer_id, topic=topic, granted=granted, source=source, text=text, at=at
        )
        self.session.add(row)
        customer = await self.session.get(Customer, customer_id)
        if customer is not None:
            customer.consent = {**(customer.consent or {}), topic: granted}
        await self.session.flush()
        return row

    async def latest_consents(self, customer_id: int) -> dict[str, Consent]:
        """The customer's latest consent row per topic."""
        rows = await self.session.scalars(
            select(Consent)
            .where(Consent.customer_id == customer_id)
            .order_by(Consent.at, Consent.id)
        )
        return {row.topic: row for row in rows}

    # ---- history -----------------------------------------------------------------------------

    async def jobs(self, customer_id: int, limit: int = 200) -> list[ProactiveJob]:
        """The customer's newest jobs (any status), newest due time first."""
        return list(
            await self.session.scalars(
                select(ProactiveJob)
                .where(ProactiveJob.customer_id == customer_id)
                .order_by(ProactiveJob.due_at.desc(), ProactiveJob.id.desc())
                .limit(limit)
            )
        )

    async def decisions(
        self, customer_id: int, job_ids: Sequence[int] | None = None
    ) -> list[ProactiveDecision]:
        """Decision rows of the customer (of some jobs), oldest first."""
        stmt = select(ProactiveDecision).where(ProactiveDecision.customer_id == customer_id)
        if job_ids is not None:
            stmt = stmt.where(ProactiveDecision.job_id.in_(list(job_ids)))
        return list(await self.session.scalars(stmt.order_by(ProactiveDecision.id)))


def _decision(
    job: ProactiveJob, decision: str, reason: str, channel: str | None, now: dt.datetime
) -> ProactiveDecision:
    return ProactiveDecision(
        job_id=job.id,
        customer_id=job.customer_id,
        scenario=job.scenario,
        topic=job.topic,
        decision=decision,
        reason=reason,
        channel=channel,
        at=now,
    )
