"""Erasure jobs (issue 16): the table and the few reads and writes the erasure job needs.

The model lives here, beside its queries, because `storage.models` is at its size limit; the
migration is 0011. A job moves ``pending -> running -> done`` (or ``failed``, resumable);
``step`` is the number of steps already finished, so a crash resumes at the next one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId, utcnow

__all__ = ["JOB_STATES", "ErasureJob", "load_job", "open_job_for"]

JOB_STATES = ("pending", "running", "done", "failed")


class ErasureJob(Base):
    """One erasure of one customer, step by step, with its receipt."""

    __tablename__ = "erasure_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    step: Mapped[int] = mapped_column(Integer, default=0)  # steps finished
    step_name: Mapped[str | None] = mapped_column(String(32))  # the last finished
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    receipt: Mapped[dict[str, Any]] = mapped_column(default=dict)  # store -> count
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[dt.datetime | None]


async def load_job(session: AsyncSession, job_id: int) -> ErasureJob | None:
    """The job ``job_id``, or None."""
    return await session.get(ErasureJob, job_id)


async def finished_job_for(session: AsyncSession, customer_id: int) -> ErasureJob | None:
    """The customer's last finished job, if any. An erased customer takes no new data (each
    identity lost its chat id: a person who writes again is a new customer), so a later request
    is answered with it rather than erasing nothing again under a second audit entry."""
    result = await session.scalars(
        select(ErasureJob)
        .where(ErasureJob.customer_id == customer_id, ErasureJob.state == "done")
        .order_by(ErasureJob.id.desc())
        .limit(1)
    )
    return result.first()


async def open_job_for(session: AsyncSession, customer_id: int) -> ErasureJob | None:
    """The customer's unfinished job (pending, running or failed), if any: a second request
    resumes it instead of starting another."""
    result = await session.scalars(
        select(ErasureJob)
        .where(ErasureJob.customer_id == customer_id, ErasureJob.state != "done")
        .order_by(ErasureJob.id)
        .limit(1)
    )
    return result.first()
