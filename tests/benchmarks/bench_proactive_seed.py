"""The proactive benchmark's customers and reminder jobs, and the audit after a drain.

Jobs are scheduled through the real trigger API (`bots.proactive.trigger`, the call the booking
flow makes): one booking reminder per visit, for visits about two hours after the bot's clock
start, so the 2-hour reminder of each is due when the service starts (the 24-hour one is past
and left out by the trigger). Customers are spread over Telegram and Viber; every tenth has both
with the Telegram bot blocked (the message must go to Viber), and every tenth gets more reminders
than the topic's daily cap (the surplus must be `capped`, not sent).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from bots.proactive import Scenarios, trigger
from storage.db import Database
from storage.models import ChannelIdentity, Customer, Message
from storage.proactive_models import ProactiveDecision, ProactiveJob
from tests.benchmarks.bench_proactive_fakes import Ledger

__all__ = ["SCENARIO", "START", "Plan", "audit", "job_token", "seed"]

#: the bot's clock at the service's start: 12:00 in Kyiv, outside the bundled quiet hours
START = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
SCENARIO = "booking_reminder"  # the bundled clinic reminders (topic "reminders")
TRIGGER_BATCH = 1000  # triggers per transaction


def job_token(j: int) -> str:
    return f"PJ{j:07d}"


@dataclass(frozen=True)
class Shopper:
    """One customer of the plan: identities, the reminders, where they must arrive."""

    index: int
    jobs: range  # job numbers
    identities: tuple[tuple[str, str, bool], ...]  # (channel, external id, reachable)
    last_channel: str
    expected_channel: str
    language: str


@dataclass(frozen=True)
class Plan:
    jobs: int
    platforms: tuple[str, ...] = ("telegram", "viber")
    cap: int = 4  # the topic's daily cap (checked against the scenarios file by `seed`)
    heavy_every: int = 10  # every n-th customer gets `heavy` reminders, over the cap
    heavy: int = 6

    def shoppers(self) -> list[Shopper]:
        out: list[Shopper] = []
        j = i = 0
        while j < self.jobs:
            n = min(self.heavy if i % self.heavy_every == 0 else self.cap, self.jobs - j)
            out.append(self._shopper(i, range(j, j + n)))
            j, i = j + n, i + 1
        return out

    def _shopper(self, i: int, jobs: range) -> Shopper:
        language = "uk" if i % 3 == 0 else "en"
        tg = ("telegram", str(7_000_000_000 + i), True)
        vb = ("viber", f"bench{i:07d}+pj/q==", True)
        if "viber" not in self.platforms or i % 2 == 0:
            return Shopper(i, jobs, (tg,), "telegram", "telegram", language)
        if i % 10 == 5:  # blocked the Telegram bot: the next reachable channel carries it
            blocked = (tg[0], tg[1], False)
            return Shopper(i, jobs, (blocked, vb), "telegram", "viber", language)
        return Shopper(i, jobs, (vb,), "viber", "viber", language)

    def expected_sent(self) -> int:
        return sum(min(len(s.jobs), self.cap) for s in self.shoppers())

    def expected_capped(self) -> int:
        return sum(max(0, len(s.jobs) - self.cap) for s in self.shoppers())


async def seed(url: str, plan: Plan, scenarios: Scenarios) -> int:
    """Customers, identities and ``plan.jobs`` reminders; returns the jobs inserted."""
    caps = scenarios.topic(scenarios.get(SCENARIO).topic).caps  # type: ignore[union-attr]
    if min(c.max for c in caps) != plan.cap:
        raise SystemExit(f"the {SCENARIO} topic's cap is not {plan.cap}: {caps}")
    shoppers = plan.shoppers()
    db = Database(url)
    seen = START - dt.timedelta(days=2)
    try:
        async with db.transaction() as s:
            rows = [
                {
                    "display_name": f"Bench {p.index}",
                    "language": p.language,
                    "last_channel": p.last_channel,
                    "last_seen_at": seen,
                    "created_at": seen,
                    "consent": {},
                }
                for p in shoppers
            ]
            stmt = insert(Customer).returning(Customer.id, sort_by_parameter_order=True)
            ids = list((await s.scalars(stmt, rows)).all())
            identities = [
                {
                    "customer_id": cid,
                    "channel": channel,
                    "external_id": external,
                    "display_name": f"Bench {p.index}",
                    "reachable": reachable,
                    "last_inbound_at": seen,
                    "created_at": seen,
                }
                for cid, p in zip(ids, shoppers, strict=True)
                for channel, external, reachable in p.identities
            ]
            await s.execute(insert(ChannelIdentity), identities)
        work = [(cid, j) for cid, p in zip(ids, shoppers, strict=True) for j in p.jobs]
        inserted = 0
        for at in range(0, len(work), TRIGGER_BATCH):
            async with db.transaction() as s:
                for cid, j in work[at : at + TRIGGER_BATCH]:
                    inserted += await _remind(s, scenarios, cid, j)
        if inserted != plan.jobs:
            raise SystemExit(f"{inserted} reminders scheduled, {plan.jobs} planned")
        return inserted
    finally:
        await db.dispose()


async def _remind(s: Any, scenarios: Scenarios, customer_id: int, j: int) -> int:
    """The visit's 2-hour reminder, due 5-55 s before the clock start."""
    starts = START + dt.timedelta(hours=2) - dt.timedelta(seconds=5 + j % 50)
    token = job_token(j)
    return await trigger(
        s,
        scenarios,
        SCENARIO,
        customer_id=customer_id,
        occurrence=f"{token}@{starts.isoformat()}",
        anchor=starts,
        variables={
            "booking": token,
            "service": f"check-up {token}",
            "staff": "Dr Bench",
            "starts_at": starts.isoformat(),
        },
        now=START - dt.timedelta(minutes=5),
    )


async def audit(url: str, plan: Plan, ledger: Ledger) -> dict[str, Any]:
    """What the database and the fakes say after the drain: decisions, lost, caps, channels."""
    decision, sent = ProactiveDecision.decision, ProactiveDecision.decision == "sent"
    db = Database(url)
    try:
        async with db.session() as s:
            decisions = await _counts(s, select(decision, func.count()).group_by(decision))
            per_customer = await _counts(
                s,
                select(ProactiveDecision.customer_id, func.count())
                .where(sent)
                .group_by(ProactiveDecision.customer_id),
            )
            statuses = await _counts(
                s,
                select(Message.status, func.count())
                .where(Message.id.in_(select(ProactiveJob.message_id)))
                .group_by(Message.status),
            )
            pending = await s.scalar(select(func.count()).where(ProactiveJob.status == "scheduled"))
            variables = await s.scalars(
                select(ProactiveJob.variables).where(ProactiveJob.decision == "sent")
            )
            sent_tokens = {str((v or {}).get("booking")) for v in variables}
    finally:
        await db.dispose()
    return {
        "decisions": decisions,
        "still_scheduled": int(pending or 0),
        "sent_not_delivered": len(sent_tokens - set(ledger.counts)),
        "cap_violations_db": sum(max(0, n - plan.cap) for n in per_customer.values()),
        "message_status": statuses,
        **_count_at_fakes(plan, ledger),
    }


async def _counts(s: Any, stmt: Any) -> dict[Any, int]:
    return {key: int(n) for key, n in (await s.execute(stmt)).all()}


def _count_at_fakes(plan: Plan, ledger: Ledger) -> dict[str, int]:
    lost = over_cap = wrong_channel = 0
    for p in plan.shoppers():
        tokens = [job_token(j) for j in p.jobs]
        got = [t for t in tokens if ledger.counts.get(t)]
        lost += max(0, min(len(tokens), plan.cap) - len(got))
        over_cap += max(0, len(got) - plan.cap)  # distinct messages (doubles count apart)
        wrong_channel += sum(1 for t in got if ledger.platform[t] != p.expected_channel)
    return {
        "lost": lost,
        "cap_violations": over_cap,
        "wrong_channel": wrong_channel,
        "duplicates": ledger.duplicates,
        "unmarked": ledger.unmarked,
    }
