"""An unfinished booking or order flow gets one nudge N hours after the customer's last message
in it (scenarios with ``trigger: flow_abandoned``), and none once it is finished.

Every turn that leaves a watched flow unfinished re-arms the nudge: the pending one is
cancelled and a new one is scheduled from this message (its occurrence is the message's own
key, so a redelivered message schedules nothing twice). A turn that finishes the flow, leaves
it or hands the customer to a person cancels it. ``session.data["proactive_nudge"]`` remembers
that one is armed, so turns outside a flow write nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.templates import LANGUAGES, Templates
from bots.proactive.scenarios import Scenarios
from bots.proactive.triggers import trigger
from bots.proactive.turn_view import TurnView
from storage.repositories.proactive import ProactiveRepository

if TYPE_CHECKING:
    from storage.db import Database

__all__ = ["ARMED", "FlowWatch"]

log = logging.getLogger(__name__)

ARMED = "proactive_nudge"


class FlowWatch:
    def __init__(self, db: Database, scenarios: Scenarios, templates: Templates) -> None:
        self.db = db
        self.scenarios = scenarios
        self.nudges = scenarios.for_trigger("flow_abandoned")
        self.watched = {flow for s in self.nudges for flow in s.flows}
        self.t = templates

    async def watch(self, ctx: TurnView) -> None:
        """Arm, re-arm or disarm the nudge after the dialogue answered."""
        session = ctx.session
        assert session is not None
        if not self.nudges:
            return
        open_flow = session.flow if session.handoff is None and not ctx.escalation else None
        if open_flow in self.watched:
            assert open_flow is not None
            await self._arm(ctx, open_flow)
            session.data[ARMED] = open_flow
        elif session.data.pop(ARMED, None):
            reason = "handed to a person" if session.handoff else "the flow ended"
            await self._cancel_except(ctx, None, reason)

    async def _arm(self, ctx: TurnView, flow: str) -> None:
        assert ctx.customer_id is not None
        occurrence = f"{flow}:{ctx.message.dedup_key}"[:200]
        names = {lang: self.t.raw("flow_names", lang) for lang in LANGUAGES}
        variables = {"flow": {lang: str(n.get(flow) or n["other"]) for lang, n in names.items()}}
        async with self.db.transaction() as s:
            await self._cancel_in(s, ctx, occurrence, "the customer went on")
            for scenario in self.nudges:
                if flow in scenario.flows:
                    await trigger(
                        s,
                        self.scenarios,
                        scenario.name,
                        customer_id=ctx.customer_id,
                        occurrence=occurrence,
                        anchor=ctx.now,
                        variables=variables,
                        now=ctx.now,
                    )

    async def _cancel_except(self, ctx: TurnView, keep: str | None, reason: str) -> None:
        async with self.db.transaction() as s:
            await self._cancel_in(s, ctx, keep, reason)

    async def _cancel_in(
        self, s: AsyncSession, ctx: TurnView, keep: str | None, reason: str
    ) -> None:
        """Cancel the pending nudges, except the one of occurrence ``keep``."""
        assert ctx.customer_id is not None
        repo = ProactiveRepository(s)
        for scenario in self.nudges:
            pending = await repo.pending(ctx.customer_id, scenario.name)
            stale = [job for job in pending if job.occurrence != keep]
            if stale:
                await repo.cancel_jobs(stale, reason, ctx.now)
