"""A take-over ends the customer's open task at once (``task.ended`` with ``handoff:<cause>``).

The turn's tracker (`bots.worker.analytics`) keeps the open tasks in the customer's session,
under ``data["analytics"]``, and notices a ticket it has not seen on the customer's next message.
A take-over (`POST /api/tickets`) needs no message: the handoff service calls `taken_over` on the
session under the customer's lock, writes the events it returns, then saves the session it
changed (the task removed, the ticket noted as seen), so the tracker ends nothing twice. The
session's layout is the tracker's (``TRACKER``, each task's ``key``, ``flow``, ``at``,
``channel``, ``language``, ``conversation``, ``topic``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from storage.analytics.events import Event, handoff_cause

__all__ = ["TRACKER", "taken_over"]

TRACKER = "analytics"  # the session.data key of the turn tracker's state


def taken_over(
    data: dict[str, Any],
    *,
    ticket_id: int,
    reason: str | None,
    customer_id: int,
    channel: str | None,
    language: str | None,
    topic: str,
    now: dt.datetime,
) -> list[Event]:
    """The events of a take-over of ticket ``ticket_id`` for the tracker's state in ``data``
    (changed in place): the most recent open task ends as handed over; with no task open the
    handoff is a task of its own, started and ended now. Nothing when the tracker has seen the
    ticket already (the customer wrote since, or the bot opened it)."""
    state = data.get(TRACKER)
    state = dict(state) if isinstance(state, dict) else {}
    if state.get("ticket") == ticket_id:
        return []
    tasks = [dict(t) for t in state.get("tasks") or () if isinstance(t, dict)]
    events: list[Event] = []
    base: dict[str, Any] = {"customer_id": customer_id}
    if tasks:
        task = tasks.pop()
    else:
        task = {
            "key": f"take_over:{ticket_id}",
            "flow": None,
            "at": now.isoformat(),
            "channel": channel,
            "language": language,
            "conversation": state.get("conversation"),
            "topic": topic,
        }
        events.append(_event("task.started", task, base, now))
    started = dt.datetime.fromisoformat(task["at"])
    events.append(
        replace(
            _event("task.ended", task, base, started),  # in the task's cohort: its start
            reason=f"handoff:{handoff_cause(reason)}",
            value=max(0.0, (now - started).total_seconds()),
            data={"ended_at": now.isoformat(), "ended_on": channel, "taken_over": ticket_id},
        )
    )
    state["tasks"], state["ticket"] = tasks, ticket_id
    data[TRACKER] = state
    return events


def _event(kind: str, task: dict[str, Any], base: dict[str, Any], at: dt.datetime) -> Event:
    return Event(
        kind=kind,
        key=str(task["key"]),
        at=at,
        conversation_key=task.get("conversation"),
        channel=task.get("channel"),
        language=task.get("language"),
        intent=task.get("flow"),
        team=task.get("topic"),
        **base,
    )
