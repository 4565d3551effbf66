"""Proactive jobs, their decisions and the consent log (`storage.proactive_models`).

A job is claimed by a scheduler with a lease (`claim_due`: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, SQLite serialises writers) and then decided in a transaction that first re-checks
the claim (`storage.repositories.proactive_batch.ProactiveBatch.hold`), so a scheduler that
stalled past its lease writes nothing. Leases run on the real clock; due times and decisions
on the bot's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.analytics import events as analytics
from storage.models import Customer
from storage.proactive_models import Consent, ProactiveDecision, ProactiveJob
from storage.repositories._sql import claim_first, insert_ignoring_conflicts

__all__ = ["JOB_KEY", "ProactiveRepository", "add_jobs_sync", "cancel_scheduled"]

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
        added: list[ProactiveDecision] = []
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
            added.append(_decision(job, "cancelled", reason, None, now))
        self.session.add_all(added)
        await self.session.flush()
        await analytics.record_async(self.session, analytics.decisions([_row(d) for d in added]))
        return len(added)

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


# ---- in a synchronous unit of work (a turn's group commit, `storage.turns.TurnWrite`) ---------


def add_jobs_sync(s: Session, rows: Sequence[dict[str, Any]]) -> None:
    """`ProactiveRepository.add_jobs` in one statement (the count is not returned)."""
    if rows:
        s.execute(insert_ignoring_conflicts(s, JOBS, JOB_KEY), list(rows))


def cancel_scheduled(
    s: Session,
    customer_id: int,
    scenarios: Collection[str],
    reason: str,
    now: dt.datetime,
    *,
    keep: str | None = None,
) -> list[analytics.Event]:
    """`ProactiveRepository.cancel_jobs` of the customer's scheduled jobs of ``scenarios``
    (all but those of occurrence ``keep``), in two statements; the decisions' analytics events
    are returned for the caller to record with its own."""
    job = ProactiveJob
    stmt = update(job).where(
        job.customer_id == customer_id,
        job.status == "scheduled",
        job.scenario.in_(sorted(scenarios)),
    )
    if keep is not None:
        stmt = stmt.where(job.occurrence != keep)
    stmt = stmt.values(status="cancelled", decision="cancelled", reason=reason, updated_at=now)
    cancelled = s.execute(
        stmt.returning(job.id, job.customer_id, job.scenario, job.topic).execution_options(
            synchronize_session=False
        )
    ).all()
    rows = [  # `_decision`'s columns
        {
            "job_id": r.id,
            "customer_id": r.customer_id,
            "scenario": r.scenario,
            "topic": r.topic,
            "decision": "cancelled",
            "reason": reason,
            "channel": None,
            "at": now,
        }
        for r in sorted(cancelled, key=lambda r: r.id)
    ]
    if rows:
        s.execute(insert(ProactiveDecision), rows)
    return analytics.decisions(rows)


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


def _row(d: ProactiveDecision) -> dict[str, Any]:
    """A decision row's columns, as the analytics read them."""
    return {
        "job_id": d.job_id,
        "customer_id": d.customer_id,
        "scenario": d.scenario,
        "topic": d.topic,
        "decision": d.decision,
        "channel": d.channel,
        "at": d.at,
    }
