"""An unfinished booking or order flow gets one nudge N hours after the customer's last message
in it (scenarios with ``trigger: flow_abandoned``), and none once it is finished.

A turn that leaves a watched flow unfinished arms the nudge, due N hours from now; while the
customer goes on in the flow it is moved along (the pending one cancelled, a new one scheduled
from this message), at most every `REARM` so a brisk conversation writes nothing per message: the
nudge comes between N hours and N hours + `REARM` after the last message. A turn that finishes
the flow, leaves it or hands the customer to a person cancels it. The occurrence is the arming
message's own key, so a redelivered message schedules nothing twice. What is armed or cancelled
is written with the turn's message, in its commit (`storage.turns.TurnWrite`): no transaction
of its own, and nothing written for a turn that is not stored.
``session.data["proactive_nudge"]`` (flow, occurrence, when) remembers what is armed, so turns
outside a flow write nothing. The nudges are this module's: a reply does not cancel them
(`bots.proactive.hooks.ProactiveTurn.signal_reply` leaves them alone), going on in the flow does.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from bots.flows.templates import LANGUAGES, Templates
from bots.proactive.scenarios import Scenarios
from bots.proactive.triggers import job_rows
from bots.proactive.turn_view import TurnView
from storage.analytics.events import Event
from storage.repositories.proactive import add_jobs_sync, cancel_scheduled
from storage.turns import TurnWrite

__all__ = ["ARMED", "REARM", "FlowWatch"]

log = logging.getLogger(__name__)

ARMED = "proactive_nudge"
REARM = dt.timedelta(minutes=10)


class FlowWatch:
    def __init__(self, scenarios: Scenarios, templates: Templates) -> None:
        self.scenarios = scenarios
        self.nudges = scenarios.for_trigger("flow_abandoned")
        self.names = frozenset(s.name for s in self.nudges)
        self.watched = {flow for s in self.nudges for flow in s.flows}
        self.t = templates

    async def watch(self, ctx: TurnView) -> None:
        """Arm, move or cancel the nudge after the dialogue answered (written with the turn)."""
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
            ctx.writes.append(self._arm(ctx, open_flow, occurrence))
            session.data[ARMED] = {
                "flow": open_flow,
                "occurrence": occurrence,
                "at": ctx.now.isoformat(),
            }
        elif session.data.pop(ARMED, None) is not None:
            reason = "handed to a person" if session.handoff else "the flow ended"
            ctx.writes.append(self._cancel(ctx, None, reason))

    def _arm(self, ctx: TurnView, flow: str, occurrence: str) -> TurnWrite:
        assert ctx.customer_id is not None and ctx.session is not None
        names = {lang: self.t.raw("flow_names", lang) for lang in LANGUAGES}
        variables = {"flow": {lang: str(n.get(flow) or n["other"]) for lang, n in names.items()}}
        rows = [
            row
            for scenario in self.nudges
            if flow in scenario.flows
            for row in job_rows(
                self.scenarios,
                scenario.name,
                customer_id=ctx.customer_id,
                occurrence=occurrence,
                anchor=ctx.now,
                variables=variables,
                now=ctx.now,
            )
        ]
        # one is pending: this message moves it
        moved = (
            self._cancel(ctx, occurrence, "the customer went on")
            if ARMED in ctx.session.data
            else None
        )

        def arm(s: Session) -> Sequence[Event]:
            events = moved(s) if moved is not None else ()
            add_jobs_sync(s, rows)
            return events

        return arm

    def _cancel(self, ctx: TurnView, keep: str | None, reason: str) -> TurnWrite:
        """Cancel the pending nudges, except the one of occurrence ``keep``."""
        assert ctx.customer_id is not None
        customer_id, names, now = ctx.customer_id, self.names, ctx.now

        def cancel(s: Session) -> Sequence[Event]:
            return cancel_scheduled(s, customer_id, names, reason, now, keep=keep)

        return cancel


def _armed(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) and value.get("flow") else None


def _fresh(armed: dict[str, Any], now: dt.datetime) -> bool:
    try:
        at = dt.datetime.fromisoformat(str(armed.get("at")))
    except ValueError:
        return False
    return dt.timedelta(0) <= now - at < REARM
