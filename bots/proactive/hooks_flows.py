"""An unfinished booking or order flow gets one nudge N hours after the customer's last message
in it (scenarios with ``trigger: flow_abandoned``), and none once it is finished.

A turn that leaves a watched flow unfinished arms the nudge, due N hours from now; while the
customer goes on in the flow it is moved along (the pending one cancelled, a new one scheduled
from this message), at most every `REARM` so a brisk conversation writes nothing per message: the
nudge comes between N hours and N hours + `REARM` after the last message. A turn that finishes
the flow, leaves it or hands the customer to a person cancels it. The occurrence is the arming
message's own key, so a redelivered message schedules nothing twice.
``session.data["proactive_nudge"]`` (flow, occurrence, when) remembers what is armed, so turns
outside a flow write nothing. The nudges are this module's: a reply does not cancel them
(`bots.proactive.hooks.ProactiveTurn.signal_reply` leaves them alone), going on in the flow does.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.templates import LANGUAGES, Templates
from bots.proactive.scenarios import Scenarios
from bots.proactive.triggers import trigger
from bots.proactive.turn_view import TurnView
from storage.db import Database
from storage.repositories.proactive import ProactiveRepository

__all__ = ["ARMED", "REARM", "FlowWatch"]

log = logging.getLogger(__name__)

ARMED = "proactive_nudge"
REARM = dt.timedelta(minutes=10)


class FlowWatch:
    def __init__(self, db: Database, scenarios: Scenarios, templates: Templates) -> None:
        self.db = db
        self.scenarios = scenarios
        self.nudges = scenarios.for_trigger("flow_abandoned")
        self.names = frozenset(s.name for s in self.nudges)
        self.watched = {flow for s in self.nudges for flow in s.flows}
        self.t = templates

    async def watch(self, ctx: TurnView) -> None:
        """Arm, move or cancel the nudge after the dialogue answered."""
        session = ctx.session
        assert session is not None
        if not self.nudges:
            return
        armed = _armed(session.data.get(ARMED))
        open_flow = session.flow if session.handoff is None and not ctx.escalation else None
        if open_flow in self.watched:
            assert open_flow is not None
            if armed is not None and armed["flow"] == open_flow and _fresh(armed, ctx.now):
                return  # armed a moment ago: the nudge's time is close enough
            occurrence = f"{open_flow}:{ctx.message.dedup_key}"[:200]
            await self._arm(ctx, open_flow, occurrence)
            session.data[ARMED] = {
                "flow": open_flow,
                "occurrence": occurrence,
                "at": ctx.now.isoformat(),
            }
        elif session.data.pop(ARMED, None) is not None:
            reason = "handed to a person" if session.handoff else "the flow ended"
            async with self.db.transaction() as s:
                await self._cancel_in(s, ctx, None, reason)

    async def _arm(self, ctx: TurnView, flow: str, occurrence: str) -> None:
        assert ctx.customer_id is not None and ctx.session is not None
        names = {lang: self.t.raw("flow_names", lang) for lang in LANGUAGES}
        variables = {"flow": {lang: str(n.get(flow) or n["other"]) for lang, n in names.items()}}
        async with self.db.transaction() as s:
            if ARMED in ctx.session.data:  # one is pending: this message moves it
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

    async def _cancel_in(
        self, s: AsyncSession, ctx: TurnView, keep: str | None, reason: str
    ) -> None:
        """Cancel the pending nudges, except the one of occurrence ``keep``."""
        assert ctx.customer_id is not None
        repo = ProactiveRepository(s)
        stale = [
            job
            for job in await repo.pending(ctx.customer_id)
            if job.scenario in self.names and job.occurrence != keep
        ]
        if stale:
            await repo.cancel_jobs(stale, reason, ctx.now)


def _armed(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) and value.get("flow") else None


def _fresh(armed: dict[str, Any], now: dt.datetime) -> bool:
    try:
        at = dt.datetime.fromisoformat(str(armed.get("at")))
    except ValueError:
        return False
    return dt.timedelta(0) <= now - at < REARM
