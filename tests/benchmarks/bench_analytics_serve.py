"""`omnirelay` for the analytics benchmark: with ``BENCH_ANALYTICS_EVENTS=off`` (read only here,
by the benchmark harness) the analytics writers of `storage.analytics.events` do nothing before
any module that uses them is imported, so the same code runs with and without event writing.

    BENCH_ANALYTICS_EVENTS=off python tests/benchmarks/bench_analytics_serve.py run --port 8080
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _switch_off() -> None:
    import storage.analytics.events as events

    def record(_s: Any, _events: Any) -> None:
        return None

    async def record_async(_s: Any, _events: Any) -> None:
        return None

    def collect(_s: Any, _facts: Any) -> list[Any]:
        return []

    events.record = record  # type: ignore[assignment]
    events.record_async = record_async  # type: ignore[assignment]
    events.collect = collect  # type: ignore[assignment]


if __name__ == "__main__":
    if os.environ.get("BENCH_ANALYTICS_EVENTS") == "off":
        _switch_off()
    from bots.cli import main

    sys.exit(main(sys.argv[1:]))
