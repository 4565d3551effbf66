"""What the dialogue did with tasks in one turn, noted for the analytics (issue 15).

A task is one thing the customer came to get done: a flow the dialogue starts (a booking, an
order lookup, an FAQ answer that ends in the same turn). The dialogue notes here which flows it
started and whether the customer stopped what was open; `bots.worker.analytics` turns the notes
and the session's state after the turn into ``task.started`` / ``task.ended`` events (completed,
abandoned, or handed to a person). See ``storage/analytics/METRICS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TaskNotes"]


@dataclass(slots=True)
class TaskNotes:
    """The turn's task changes, in order of the dialogue's decisions."""

    started: list[str] = field(default_factory=list)  # flows started (or restarted)
    stopped: bool = False  # the customer ended the open task(s): "stop", "no" to resuming

    def start(self, flow: str) -> None:
        self.started.append(flow)

    def stop(self) -> None:
        self.stopped = True
