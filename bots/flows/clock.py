"""The bot's sense of "now": the real time, or a pinned start that then runs at normal speed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """``clock()`` is the current instant (aware UTC).

    With ``start`` it begins there instead of at the real time and runs on from it, so tests and
    demos get fixed dates ("tomorrow" is always the same day) while message order stays real.
    ``advance`` skips ahead (a customer coming back after a pause)."""

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("the clock start must be timezone-aware")
        self._offset = timedelta(0) if start is None else start - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        self._offset += delta
