"""A scheduler's decisions about many claimed jobs in one transaction, in a few statements.

`hold` re-checks the claim of every job at once (only those still scheduled and under the
caller's unexpired lease come back, locked for the transaction: a scheduler that stalled past
its lease writes nothing), `lock_customers` locks their customers in id order (the frequency
caps are counted under it; the order keeps two schedulers from deadlocking), the reads fetch
what the decisions need for all customers together, and `settle` writes the transcript rows,
the jobs' new state and the decision log with multi-row statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.analytics import events as analytics
from storage.models import Booking, ChannelIdentity, Conversation, Customer
from storage.proactive_models import Consent, ProactiveDecision, ProactiveJob
from storage.repositories.messages import MESSAGES

__all__ = ["ProactiveBatch"]

DECISIONS = cast(Table, ProactiveDecision.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)


class ProactiveBatch:
    """Bulk reads and writes of one scheduler round, in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def hold(
        self, job_ids: Sequence[int], owner: str, real_now: dt.datetime
    ) -> list[ProactiveJob]:
        """The jobs still scheduled and still ``owner``'s (lease unexpired at ``real_now``),
        locked until commit; the others are no longer the caller's to decide."""
        result = await self.session.execute(
            update(ProactiveJob)
            .where(
                ProactiveJob.id.in_(list(job_ids)),
                ProactiveJob.status == "scheduled",
                ProactiveJob.claimed_by == owner,
                ProactiveJob.lease_until > real_now,
            )
            .values(updated_at=real_now)
            .returning(ProactiveJob)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return sorted(result.scalars(), key=lambda j: (j.due_at, j.id))

    async def lock_customers(self, ids: Collection[int]) -> dict[int, Customer]:
        """The customers, locked until commit (PostgreSQL; SQLite serialises writers)."""
        rows = await self.session.scalars(
            select(Customer)
            .where(Customer.id.in_(sorted(ids)))
            .order_by(Customer.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return {c.id: c for c in rows}

    async def consents(
        self, ids: Collection[int]
    ) -> dict[int, dict[str, tuple[bool, dt.datetime]]]:
        """customer -> topic -> (granted, at) of the latest consent row."""
        out: dict[int, dict[str, tuple[bool, dt.datetime]]] = {}
        rows = await self.session.execute(
            select(Consent.customer_id, Consent.topic, Consent.granted, Consent.at)
            .where(Consent.customer_id.in_(list(ids)))
            .order_by(Consent.at, Consent.id)
        )
        for customer_id, topic, granted, at in rows:
            out.setdefault(customer_id, {})[topic] = (bool(granted), at)
        return out

    async def identities(self, ids: Collection[int]) -> dict[int, list[ChannelIdentity]]:
        out: dict[int, list[ChannelIdentity]] = {}
        rows = await self.session.scalars(
            select(ChannelIdentity)
            .where(ChannelIdentity.customer_id.in_(list(ids)))
            .order_by(ChannelIdentity.id)
        )
        for identity in rows:
            out.setdefault(identity.customer_id, []).append(identity)
        return out

    async def bookings(self, references: Collection[str]) -> dict[str, Booking]:
        """The bookings reminders are about, by reference (absent: kept elsewhere)."""
        if not references:
            return {}
        rows = await self.session.scalars(
            select(Booking).where(Booking.reference.in_(list(references)))
        )
        return {b.reference: b for b in rows}

    async def sent_counts(
        self, ids: Collection[int], topics: Collection[str], since: dt.datetime
    ) -> dict[tuple[int, str], int]:
        """(customer, topic) -> messages sent after ``since``, on any channel."""
        d = ProactiveDecision
        rows = await self.session.execute(
            select(d.customer_id, d.topic, func.count())
            .where(
                d.customer_id.in_(list(ids)),
                d.topic.in_(list(topics)),
                d.decision == "sent",
                d.at > since,
            )
            .group_by(d.customer_id, d.topic)
        )
        return {(customer_id, topic): int(n) for customer_id, topic, n in rows}

    async def conversations(self, ids: Collection[int], now: dt.datetime) -> dict[int, int]:
        """customer -> their latest open conversation (opened when they have none); its last
        message time becomes ``now``."""
        c = CONVERSATIONS.c
        rows = await self.session.execute(
            select(c.customer_id, c.id)
            .where(c.customer_id.in_(list(ids)), c.status == "open")
            .order_by(c.started_at, c.id)
        )
        found = {int(r[0]): int(r[1]) for r in rows}  # the latest one per customer wins
        missing = [i for i in ids if i not in found]
        if missing:
            new = await self.session.execute(
                insert(CONVERSATIONS).returning(c.customer_id, c.id, sort_by_parameter_order=True),
                [
                    {"customer_id": i, "status": "open", "started_at": now, "last_message_at": now}
                    for i in missing
                ],
            )
            found.update({int(r[0]): int(r[1]) for r in new})
        if len(found) > len(missing):
            await self.session.execute(
                update(CONVERSATIONS)
                .where(c.id.in_([found[i] for i in ids if i not in missing]))
                .values(last_message_at=now)
            )
        return found

    async def add_messages(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert transcript rows (`storage.repositories.messages.outbound_values`); their ids
        in the order given."""
        if not rows:
            return []
        result = await self.session.execute(
            insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True), list(rows)
        )
        return [int(i) for i in result.scalars()]

    async def settle(
        self, jobs: Sequence[dict[str, Any]], decisions: Sequence[dict[str, Any]]
    ) -> None:
        """Write the jobs' new state (dicts of `ProactiveJob` columns, with ``id``) and the
        decision rows."""
        if jobs:
            await self.session.execute(update(ProactiveJob), list(jobs))
        if decisions:
            await self.session.execute(insert(DECISIONS), list(decisions))
            await analytics.record_async(self.session, analytics.decisions(decisions))
