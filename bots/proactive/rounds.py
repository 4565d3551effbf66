"""One scheduler round's decisions, taken together in the caller's transaction.

`Round.decide` re-checks the claims (`ProactiveBatch.hold`: a job that is no longer ours is
left alone), locks the customers, reads everything the decisions need in a handful of queries,
decides each job with `bots.proactive.policy.decide` (a customer's jobs in due order, the
frequency caps counted as they go), and writes the transcript rows of the messages to send,
the jobs' new state and one decision row per job.

Locks are taken jobs first, then customers in id order: the order of a merge of two profiles
(which moves the jobs, then updates the customers), and two schedulers, whose jobs are
disjoint, meet only on customers, in the same order.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bots.messages import OutboundMessage, encode_outbound
from bots.proactive.policy import BookingFacts, Facts, Verdict, decide, over_cap
from bots.proactive.scenarios import Scenarios
from storage.models import ChannelIdentity, Customer
from storage.proactive_models import ProactiveJob
from storage.repositories.messages import outbound_values
from storage.repositories.proactive_batch import ProactiveBatch

__all__ = ["Outcome", "Round"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A job's decision; for ``sent``, the transcript row holding its message."""

    job: ProactiveJob
    verdict: Verdict
    message_id: int | None = None


@dataclass(slots=True)
class _Known:
    """What the round read about the customers of its jobs."""

    customers: Mapping[int, Customer]
    consents: Mapping[int, dict[str, tuple[bool, datetime]]]
    identities: Mapping[int, list[ChannelIdentity]]
    bookings: Mapping[str, BookingFacts]
    sent: dict[timedelta, dict[tuple[int, str], int]]  # cap window -> (customer, topic) -> n


class Round:
    def __init__(
        self,
        scenarios: Scenarios,
        *,
        channels: Collection[str],
        timezone: str,
        default_language: str,
        owner: str,
        outbox_owner: str,
        send_lease: timedelta,
    ) -> None:
        self.scenarios = scenarios
        self.channels = frozenset(channels)
        self.timezone = timezone
        self.default_language = default_language
        self.owner = owner
        self.outbox_owner = outbox_owner
        self.send_lease = send_lease

    async def decide(
        self, s: AsyncSession, job_ids: Sequence[int], real: datetime, now: datetime
    ) -> list[Outcome]:
        """Decide the claimed jobs still ours; see the module's docstring."""
        batch = ProactiveBatch(s)
        jobs = await batch.hold(job_ids, self.owner, real)
        if len(jobs) < len(job_ids):
            lost = sorted(set(job_ids) - {j.id for j in jobs})
            log.info("proactive jobs %s are no longer ours (their lease ran out)", lost)
        if not jobs:
            return []
        known = await self._read(batch, jobs, now)
        outcomes = [await self._one(job, known, now) for job in jobs]
        return await self._write(batch, outcomes, now, real)

    async def drop(
        self, s: AsyncSession, job_id: int, reason: str, real: datetime, now: datetime
    ) -> None:
        """End a job that cannot be decided (a bug, bad data) as ``suppressed`` with
        ``reason``, if it is still ours."""
        batch = ProactiveBatch(s)
        for job in await batch.hold([job_id], self.owner, real):
            dropped = Outcome(job, Verdict("suppressed", reason[:1000]))
            await batch.settle([_job_row(dropped, now)], [_decision_row(dropped, now)])

    async def _read(self, batch: ProactiveBatch, jobs: list[ProactiveJob], now: datetime) -> _Known:
        ids = {j.customer_id for j in jobs}
        references = {
            str(j.variables["booking"]) for j in jobs if (j.variables or {}).get("booking")
        }
        topics = {j.topic for j in jobs}
        windows = {cap.per for t in topics for cap in self.scenarios.topic(t).caps}
        return _Known(
            customers=await batch.lock_customers(ids),
            consents=await batch.consents(ids),
            identities=await batch.identities(ids),
            bookings={
                ref: BookingFacts(b.status, b.starts_at)
                for ref, b in (await batch.bookings(references)).items()
            },
            sent={w: await batch.sent_counts(ids, topics, now - w) for w in windows},
        )

    async def _one(self, job: ProactiveJob, known: _Known, now: datetime) -> Outcome:
        customer = known.customers[job.customer_id]
        reference = (job.variables or {}).get("booking")
        facts = Facts(
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
            identities=known.identities.get(customer.id, []),
            running=self.channels,
            consents=known.consents.get(customer.id, {}),
            booking=known.bookings.get(str(reference)) if reference else None,
        )
        verdict = decide(self.scenarios, facts)
        if verdict.decision != "send":
            return Outcome(job, verdict)
        key = (job.customer_id, job.topic)

        async def sent_since(since: datetime) -> int:
            return known.sent[now - since].get(key, 0)

        capped = await over_cap(self.scenarios.topic(job.topic), now, sent_since)
        if capped is not None:
            return Outcome(job, Verdict("capped", capped))
        for counts in known.sent.values():
            counts[key] = counts.get(key, 0) + 1
        return Outcome(job, verdict)

    async def _write(
        self, batch: ProactiveBatch, outcomes: list[Outcome], now: datetime, real: datetime
    ) -> list[Outcome]:
        sending = [o for o in outcomes if o.verdict.decision == "send"]
        conversations = await batch.conversations({o.job.customer_id for o in sending}, now)
        message_ids = await batch.add_messages(
            [self._message(o, conversations[o.job.customer_id], now, real) for o in sending]
        )
        ids = dict(zip((o.job.id for o in sending), message_ids, strict=True))
        done = [Outcome(o.job, o.verdict, ids.get(o.job.id)) for o in outcomes]
        await batch.settle([_job_row(o, now) for o in done], [_decision_row(o, now) for o in done])
        return done

    def _message(
        self, o: Outcome, conversation_id: int, now: datetime, real: datetime
    ) -> dict[str, Any]:
        """The transcript row: pending, held by this process's outbox for its send lease."""
        v = o.verdict
        assert v.message is not None and v.channel is not None and v.external_id is not None
        return outbound_values(
            customer_id=o.job.customer_id,
            conversation_id=conversation_id,
            channel=v.channel,
            external_user_id=v.external_id,
            sender_kind="bot",
            text=v.message.text,
            body=_body(v.message, o.job),
            in_reply_to_id=None,
            now=now,
            due_at=real + self.send_lease,
            claimed_by=self.outbox_owner,
        )


def _decision_name(o: Outcome) -> str:
    return "sent" if o.verdict.decision == "send" else o.verdict.decision


def _job_row(o: Outcome, now: datetime) -> dict[str, Any]:
    decision, job = _decision_name(o), o.job
    deferred = decision == "deferred"
    return {
        "id": job.id,
        "status": "scheduled" if deferred else "done",
        "due_at": o.verdict.defer_to if deferred else job.due_at,
        "decision": decision,
        "reason": o.verdict.reason,
        "channel": o.verdict.channel if decision == "sent" else None,
        "message_id": o.message_id,
        "claimed_by": None,
        "lease_until": None,
        "updated_at": now,
    }


def _decision_row(o: Outcome, now: datetime) -> dict[str, Any]:
    decision = _decision_name(o)
    return {
        "job_id": o.job.id,
        "customer_id": o.job.customer_id,
        "scenario": o.job.scenario,
        "topic": o.job.topic,
        "decision": decision,
        "reason": o.verdict.reason,
        "channel": o.verdict.channel if decision == "sent" else None,
        "at": now,
    }


def _body(message: OutboundMessage, job: ProactiveJob) -> dict[str, Any]:
    body = encode_outbound(message)
    body["proactive"] = {"job_id": job.id, "scenario": job.scenario, "step": job.step}
    return body
