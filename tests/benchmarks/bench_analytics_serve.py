"""`omnirelay` for the analytics benchmark: with ``BENCH_ANALYTICS_EVENTS=off`` (read only here,
by the benchmark harness) the analytics writers of `storage.analytics.events` do nothing before
any module that uses them is imported, so the same code runs with and without event writing;
with ``alternate`` they write in half of the ``BENCH_ANALYTICS_SLICE``-second slices of the wall
clock (`slice_on`)
(``alternate-off``: never, while the harness counts the slices the same way: its noise floor).

    BENCH_ANALYTICS_EVENTS=off python tests/benchmarks/bench_analytics_serve.py run --port 8080
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _switch(on: Callable[[], bool]) -> None:
    """The writers write while ``on()`` is true and do nothing otherwise: neither the turn's
    tracker builds its events (nor keeps its state in the session) nor does anything insert
    them."""
    import storage.analytics.events as events

    real_record, real_record_async = events.record, events.record_async

    def record(s: Any, found: Any) -> None:
        if on():
            real_record(s, found)

    async def record_async(s: Any, found: Any) -> None:
        if on():
            await real_record_async(s, found)

    events.record = record  # type: ignore[assignment]
    events.record_async = record_async  # type: ignore[assignment]
    # after the patch above: the modules imported now take the switched writers
    import bots.worker.analytics as turn_analytics

    real_facts = turn_analytics.TurnAnalytics.facts

    def facts(self: Any, ctx: Any) -> list[Any]:
        return real_facts(self, ctx) if on() else []

    turn_analytics.TurnAnalytics.facts = facts  # type: ignore[method-assign]


def slice_on(index: int) -> bool:
    """Whether slice ``index`` of the wall clock (``time.time() // slice_s``) writes events.
    Slices go in pairs, one of each kind, in an order a hash of the pair picks: a strict
    on/off alternation put every run of a job with a period of two slices (the 10 s loops
    against 5 s slices) in the same half, and an A/A run read 4.7% between halves that did
    the same work."""
    pair_bit = hashlib.blake2b(str(index // 2).encode(), digest_size=1).digest()[0] & 1
    return index % 2 == pair_bit


def _alternating(slice_s: float) -> Callable[[], bool]:
    """On in the slices `slice_on` picks (the harness reads the same clock and the same
    function to tell which half each answer and each CPU reading belongs to)."""
    return lambda: slice_on(int(time.time() // slice_s))


if __name__ == "__main__":
    mode = os.environ.get("BENCH_ANALYTICS_EVENTS", "on")
    if mode in ("off", "alternate-off"):  # alternate-off: the slices' A/A calibration
        _switch(lambda: False)
    elif mode == "alternate":
        _switch(_alternating(float(os.environ["BENCH_ANALYTICS_SLICE"])))
    from bots.cli import main

    sys.exit(main(sys.argv[1:]))
