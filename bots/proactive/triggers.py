"""Starting, cancelling and reading proactive messages, inside the caller's transaction.

`trigger` turns a scenario into scheduled jobs (one per step) in the session it is given, so a
booking and its reminders commit together; the unique key (customer, scenario, occurrence,
step) makes a repeated trigger a no-op. `cancel` and `signal` end pending jobs with a reason.
The consent log and the per-customer history are read here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy.ext.asyncio import AsyncSession

from bots.messages import now_utc
from bots.proactive.scenarios import Scenarios
from storage.repositories.proactive import ProactiveRepository

__all__ = [
    "ConsentView",
    "DecisionView",
    "JobView",
    "UnknownScenario",
    "cancel",
    "consents",
    "history",
    "job_rows",
    "set_consent",
    "signal",
    "trigger",
]


class UnknownScenario(LookupError):
    """`trigger` was asked for a scenario the scenarios file does not define."""


@dataclass(frozen=True, slots=True)
class ConsentView:
    topic: str
    granted: bool
    source: str
    text: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "granted": self.granted,
            "source": self.source,
            "text": self.text,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class DecisionView:
    decision: str
    reason: str
    channel: str | None
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "channel": self.channel,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class JobView:
    """A scheduled, sent or dropped message and every decision taken about it."""

    id: int
    scenario: str
    step: int
    occurrence: str
    topic: str
    status: str  # scheduled | done | cancelled
    due_at: datetime
    expires_at: datetime | None
    decision: str | None
    reason: str | None
    channel: str | None
    message_id: int | None
    decisions: tuple[DecisionView, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "decisions"}
        return {**out, "decisions": [d.as_dict() for d in self.decisions]}


class Occurrence(TypedDict):
    """The keyword arguments of `trigger` and `job_rows`: whose, which occurrence, when."""

    customer_id: int
    occurrence: str
    anchor: datetime
    variables: dict[str, Any]
    now: NotRequired[datetime | None]


async def trigger(
    session: AsyncSession, scenarios: Scenarios, name: str, **plan: Unpack[Occurrence]
) -> int:
    """Schedule scenario ``name``'s steps for the customer: due at ``anchor`` ± each step's
    delay, in the caller's transaction. Returns how many jobs were inserted (0 when this
    occurrence was triggered before).

    ``now`` (the bot's clock): a `before:` step whose time has passed is left out (a visit
    booked 3 hours ahead gets its 2-hour reminder, not the one of the day before); an
    `after:` step is kept and goes out as soon as possible unless it has expired."""
    rows = job_rows(scenarios, name, **plan)
    return await ProactiveRepository(session).add_jobs(rows)


def job_rows(scenarios: Scenarios, name: str, **plan: Unpack[Occurrence]) -> list[dict[str, Any]]:
    """The job rows `trigger` inserts (see there)."""
    customer_id, occurrence = plan["customer_id"], plan["occurrence"]
    anchor, variables, now = plan["anchor"], plan["variables"], plan.get("now")
    scenario = scenarios.get(name)
    if scenario is None:
        raise UnknownScenario(f"no scenario named {name!r} in {scenarios.source}")
    if len(occurrence) > 200:
        raise ValueError("an occurrence key is at most 200 characters")
    planned = scenario.schedule(anchor)
    if now is not None:
        planned = [p for p in planned if p[0].offset >= timedelta(0) or p[1] >= now]
    return [
        {
            "customer_id": customer_id,
            "scenario": name,
            "step": step.index,
            "occurrence": occurrence,
            "topic": scenario.topic,
            "due_at": due,
            "expires_at": expires,
            "status": "scheduled",
            "variables": dict(variables),
            "cancel_on": list(scenario.cancel_on),
            "attempts": 0,
            "created_at": now or anchor,
            "updated_at": now or anchor,
        }
        for step, due, expires in planned
    ]


async def cancel(
    session: AsyncSession,
    *,
    customer_id: int,
    scenario: str | None = None,
    occurrence: str | None = None,
    reason: str,
    now: datetime | None = None,
) -> int:
    """Cancel the customer's pending jobs (of one scenario / occurrence): each gets the
    decision ``cancelled`` with ``reason``. Returns how many were cancelled."""
    repo = ProactiveRepository(session)
    jobs = await repo.pending(customer_id, scenario, occurrence)
    return await repo.cancel_jobs(jobs, reason, now or now_utc())


async def signal(
    session: AsyncSession,
    *,
    customer_id: int,
    signal: str,
    reason: str,
    now: datetime | None = None,
) -> int:
    """Cancel the customer's pending jobs whose ``cancel_on`` lists ``signal`` ("reply" when
    the customer writes, "event:<type>" for an event of the business)."""
    repo = ProactiveRepository(session)
    jobs = [j for j in await repo.pending(customer_id) if signal in (j.cancel_on or ())]
    if not jobs:
        return 0
    return await repo.cancel_jobs(jobs, reason, now or now_utc())


async def set_consent(
    session: AsyncSession,
    *,
    customer_id: int,
    topic: str,
    granted: bool,
    source: str,
    text: str,
    at: datetime,
) -> None:
    """Record the customer's yes (``granted``) or no to ``topic``: when, where from
    ("telegram:button", "viber:text", "admin", "api") and the words shown or said."""
    await ProactiveRepository(session).add_consent(
        customer_id, topic=topic, granted=granted, source=source, text=text, at=at
    )


async def consents(session: AsyncSession, customer_id: int) -> dict[str, ConsentView]:
    """The customer's current choice per topic (the latest consent row of each)."""
    latest = await ProactiveRepository(session).latest_consents(customer_id)
    return {
        topic: ConsentView(row.topic, row.granted, row.source, row.text, row.at)
        for topic, row in latest.items()
    }


async def history(session: AsyncSession, customer_id: int, limit: int = 200) -> list[JobView]:
    """The customer's proactive messages, newest due first, each with its decisions (for
    the admin API and the console's timeline)."""
    repo = ProactiveRepository(session)
    jobs = await repo.jobs(customer_id, limit)
    decided: dict[int, list[DecisionView]] = {}
    for d in await repo.decisions(customer_id, [j.id for j in jobs]):
        decided.setdefault(d.job_id, []).append(DecisionView(d.decision, d.reason, d.channel, d.at))
    own = [f.name for f in fields(JobView) if f.name != "decisions"]
    return [
        JobView(**{name: getattr(j, name) for name in own}, decisions=tuple(decided.get(j.id, ())))
        for j in jobs
    ]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
