"""Time-based triggers outside a customer's turn:

- `TicketFollowUps` (a listener of `handoff.service.HandoffService`): a closed ticket whose CSAT
  question was asked schedules the ``ticket_closed_no_csat`` scenarios; a CSAT answer cancels
  them (and any reply does too, by their ``cancel_on: [reply]``);
- `SilenceScan` (a scan of `bots.proactive.scheduler.Scheduler`): a customer silent for the
  scenario's ``after:`` (90 days by default) gets its re-engagement message, once per silence,
  and only with consent when the topic needs it (marketing does).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Select, exists, func, select

from bots.proactive.hooks_replies import WAITS
from bots.proactive.scenarios import Scenario, Scenarios
from bots.proactive.triggers import cancel, trigger
from handoff.events import HandoffEvent
from storage.db import Database
from storage.models import ChannelIdentity, Customer
from storage.proactive_models import Consent, ProactiveJob
from storage.sessions import Session

__all__ = ["SilenceScan", "TicketFollowUps", "ticket_occurrence"]

log = logging.getLogger(__name__)

# the handoff service's `set_session(customer_id, change)`
SessionChange = Callable[[int, Callable[[Session], None]], Awaitable[Any]]
SCAN_EVERY = dt.timedelta(minutes=10)  # of the bot's clock: advancing it runs the scan at once
SCAN_BATCH = 500


def ticket_occurrence(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


class TicketFollowUps:
    """``HandoffService.listeners`` entry: follow-ups after a close, cancelled by a CSAT score
    (and by any reply: ``set_session`` marks the session so the customer's next message looks,
    `bots.proactive.hooks_replies.WAITS`)."""

    def __init__(
        self,
        db: Database,
        scenarios: Scenarios,
        clock: Callable[[], dt.datetime],
        set_session: SessionChange | None = None,
    ) -> None:
        self.db = db
        self.scenarios = scenarios
        self.clock = clock
        self.set_session = set_session

    async def __call__(self, event: HandoffEvent) -> None:
        followups = self.scenarios.for_trigger("ticket_closed_no_csat")
        if not followups:
            return
        if event.kind == "ticket.closed" and event.data.get("csat_asked", True):
            await self._schedule(event, followups)
        elif event.kind == "ticket.csat":
            now = self.clock()
            async with self.db.transaction() as s:
                for scenario in followups:
                    await cancel(
                        s,
                        customer_id=event.customer_id,
                        scenario=scenario.name,
                        occurrence=ticket_occurrence(event.ticket_id),
                        reason=f"CSAT answered for ticket {event.ticket_id}",
                        now=now,
                    )

    async def _schedule(self, event: HandoffEvent, followups: list[Scenario]) -> None:
        now = self.clock()
        async with self.db.transaction() as s:
            for scenario in followups:
                await trigger(
                    s,
                    self.scenarios,
                    scenario.name,
                    customer_id=event.customer_id,
                    occurrence=ticket_occurrence(event.ticket_id),
                    anchor=now,
                    variables={"ticket": event.ticket_id},
                    now=now,
                )
        if self.set_session is not None:
            await self.set_session(event.customer_id, _waits)
        log.info("ticket %s closed: follow-up scheduled", event.ticket_id)


def _waits(session: Session) -> None:
    session.data[WAITS] = True


class SilenceScan:
    """`Scheduler.add_scan` entry: re-engagement after a silence (see the module)."""

    def __init__(self, db: Database, scenarios: Scenarios) -> None:
        self.db = db
        self.scenarios = scenarios
        self.last: dt.datetime | None = None

    async def __call__(self, now: dt.datetime) -> int:
        """Trigger the silence scenarios that are due; at most once per `SCAN_EVERY` of the
        bot's clock. Returns how many customers got one."""
        if self.last is not None and dt.timedelta(0) <= now - self.last < SCAN_EVERY:
            return 0
        self.last = now
        started = 0
        for scenario in self.scenarios.for_trigger("silence"):
            if scenario.steps:
                started += await self._scenario(scenario, now)
        return started

    async def _scenario(self, scenario: Scenario, now: dt.datetime) -> int:
        silence = scenario.steps[0].offset
        cutoff = now - silence
        async with self.db.session() as s:
            silent = (await s.execute(self._silent(scenario, cutoff))).all()
        if not silent:
            return 0
        async with self.db.transaction() as s:
            for customer_id, last_in in silent:
                await trigger(
                    s,
                    self.scenarios,
                    scenario.name,
                    customer_id=customer_id,
                    occurrence=f"silence:{last_in:%Y-%m-%dT%H:%M}",
                    # due now, however long ago the silence began (else it expires unsent)
                    anchor=cutoff,
                    variables={"days": (now - last_in).days},
                    now=now,
                )
        log.info("%s: %d customer(s) silent since before %s", scenario.name, len(silent), cutoff)
        return len(silent)

    def _silent(self, scenario: Scenario, cutoff: dt.datetime) -> Select[Any]:
        """Customers whose last message is older than ``cutoff``, with no job of this scenario
        since then, and with consent to the topic when it needs one."""
        last = (
            select(
                ChannelIdentity.customer_id.label("customer_id"),
                func.max(ChannelIdentity.last_inbound_at).label("last_in"),
            )
            .group_by(ChannelIdentity.customer_id)
            .subquery()
        )
        already = exists().where(
            ProactiveJob.customer_id == last.c.customer_id,
            ProactiveJob.scenario == scenario.name,
            ProactiveJob.created_at >= last.c.last_in,
        )
        stmt = (
            select(last.c.customer_id, last.c.last_in)
            .join(Customer, Customer.id == last.c.customer_id)
            .where(Customer.merged_into_id.is_(None), last.c.last_in <= cutoff, ~already)
            .order_by(last.c.last_in)
            .limit(SCAN_BATCH)
        )
        if self.scenarios.topic(scenario.topic).consent == "required":
            latest = (
                select(func.max(Consent.id))
                .where(Consent.topic == scenario.topic)
                .group_by(Consent.customer_id)
            )
            granted = select(Consent.customer_id).where(
                Consent.id.in_(latest), Consent.granted.is_(True)
            )
            stmt = stmt.where(last.c.customer_id.in_(granted))
        return stmt
