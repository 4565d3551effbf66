"""The analytics benchmark (`make bench-analytics`, issue 15):

1. the summary over 1,000,000 messages and 100,000 conversations (30 days of events written
   through `storage.analytics.events.record`, folded by `storage.analytics.rollups.roll_up`) on
   the embedded SQLite database and on PostgreSQL (a private database on the shared server,
   dropped after): `storage.analytics.summary.summary` for a 30-day range and a filtered one,
   and once through ``GET /api/metrics/summary``; median and p95 of ``--runs`` runs each;
2. the cost of writing the events in the turn's path (`bench_analytics_load`): separate runs
   with and without the writers (throughput and CPU per message), and one run whose writers
   are on and off in alternate slices (``--interleaved-duration``, ``--slice``), where a busy
   machine's neighbours weigh on both halves alike (and an A/A run of it, writers off in both
   halves, for the method's noise); the rollups' folding, which runs beside the turns, is
   added per message by folding that run's events after it.

    python tests/benchmarks/bench_analytics.py --out bench-results/analytics.json
    python tests/benchmarks/bench_analytics.py --messages 100000   # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from storage.analytics.rollups import roll_up  # noqa: E402
from storage.analytics.summary import Query, summary  # noqa: E402
from storage.db import Database, upgrade  # noqa: E402
from storage.planner_stats import refresh  # noqa: E402
from tests.benchmarks.bench_analytics_load import ensure_model, interleaved, overhead  # noqa: E402
from tests.benchmarks.bench_analytics_seed import FIRST, LAST, seed  # noqa: E402
from tests.benchmarks.bench_load import Services, machine, wait_ready  # noqa: E402

TARGET_MS = 200.0
ADMIN = "bench-analytics-admin"
QUERIES = {
    "30 days": Query(FIRST, LAST),
    "30 days, telegram + uk": Query(FIRST, LAST, channel="telegram", language="uk"),
    "7 days, team orders": Query(LAST.replace(day=LAST.day - 6), LAST, team="orders"),
}


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "min_ms": round(ordered[0], 1),
        "runs": len(ordered),
    }


async def time_summary(db: Database, query: Query, runs: int) -> dict[str, Any]:
    await summary(db, query)  # warm the caches once
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await summary(db, query)
        samples.append((time.perf_counter() - t0) * 1000)
    return stats(samples)


async def time_http(url: str, model: Path, query: str, runs: int) -> dict[str, Any]:
    """``GET /api/metrics/summary`` of `omnirelay run` on the seeded database."""
    workdir = Path(tempfile.mkdtemp(prefix="omnirelay-bench-analytics-http-"))
    services = Services("embedded", "http://127.0.0.1:9", workdir, model)
    env = services.env()
    env.pop("OMNIRELAY_TELEGRAM_TOKEN", None)
    env.update(OMNIRELAY_DATABASE_URL=url, OMNIRELAY_ADMIN_TOKEN=ADMIN)
    env.pop("OMNIRELAY_REDIS_URL", None)
    services._spawn([sys.executable, "-m", "bots.cli", "run", "--port", str(services.port)], env)
    base = f"http://127.0.0.1:{services.port}"
    samples = []
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(base, session)
            headers = {"Authorization": f"Bearer {ADMIN}"}
            for i in range(runs + 1):
                t0 = time.perf_counter()
                async with session.get(f"{base}/api/metrics/summary?{query}", headers=headers) as r:
                    body = await r.json()
                    if r.status != 200:
                        raise RuntimeError(f"summary over HTTP: {r.status} {body}")
                if i:  # the first one warms up
                    samples.append((time.perf_counter() - t0) * 1000)
    finally:
        services.stop()
    return stats(samples)


async def backend(name: str, url: str, args: argparse.Namespace, model: Path) -> dict[str, Any]:
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        t0 = time.perf_counter()
        counts = await seed(db, args.messages, args.conversations)
        seeded = time.perf_counter() - t0
        t0 = time.perf_counter()
        folded = await roll_up(db)
        rolled = time.perf_counter() - t0
        if db.dialect == "sqlite":
            # the planner statistics the service keeps (`storage.planner_stats`, at its start):
            # plans are timed as `omnirelay run` makes them (the summary's read of the events
            # after the watermark once took 140 ms with them and 0.1 ms without)
            await db.run(lambda s: refresh(s, min_pages=0))
        if db.dialect == "postgresql":
            # what autovacuum does after a bulk load, before the planner can choose well (without
            # it the read of the events past the watermark took ~180 ms instead of ~15)
            async with db.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE analytics_events"))
                await conn.execute(text("VACUUM ANALYZE analytics_rollups"))
        print(f"{name}: {counts} events in {seeded:.0f} s, {folded} folded in {rolled:.0f} s")
        doc = await summary(db, QUERIES["30 days"])
        if doc["messages"]["in"] != args.messages:
            raise RuntimeError(f"summary counts {doc['messages']['in']} messages")
        timings = {}
        for label, query in QUERIES.items():
            timings[label] = await time_summary(db, query, args.runs)
            print(f"  {label}: {timings[label]}", flush=True)
    finally:
        await db.dispose()
    q = f"from={FIRST.isoformat()}&to={LAST.isoformat()}"
    http = await time_http(url, model, q, args.runs)
    print(f"  HTTP 30 days: {http}", flush=True)
    return {
        "backend": name,
        "events": counts,
        "seed_s": round(seeded, 1),
        "rollup_s": round(rolled, 1),
        "summary": timings,
        "http_30_days": http,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from tests.conftest import drop_postgres_database, fresh_postgres_database

    started_load = round(os.getloadavg()[0], 2)
    model = ensure_model(Path(args.model))
    results = []
    if "sqlite" in args.backends:
        path = Path(tempfile.mkdtemp(prefix="omnirelay-bench-analytics-")) / "analytics.db"
        results.append(await backend("sqlite", f"sqlite+aiosqlite:///{path}", args, model))
        path.unlink()
    if "postgres" in args.backends:
        pg = os.environ.get(
            "OMNIRELAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        )
        name, url = fresh_postgres_database(pg)
        try:
            results.append(await backend("postgres", url, args, model))
        finally:
            drop_postgres_database(pg, name)
    load = None
    if args.load_duration > 0:
        load = await overhead(model, args.concurrency, args.load_duration, args.load_rounds)
    mixed = calibration = None
    if args.interleaved_duration > 0:
        mixed = await interleaved(model, args.concurrency, args.interleaved_duration, args.slice)
        print(f"  interleaved: {mixed}", flush=True)
        calibration = await interleaved(
            model, args.concurrency, args.interleaved_duration, args.slice, calibrate=True
        )
        print(f"  interleaved, writers off in both halves: {calibration}", flush=True)
    return {
        "benchmark": "analytics",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average": [started_load, round(os.getloadavg()[0], 2)],
        "messages": args.messages,
        "conversations": args.conversations,
        "target_ms": TARGET_MS,
        "results": results,
        "load": load,
        "interleaved": mixed,
        "interleaved_calibration": calibration,
    }


def report(doc: dict[str, Any]) -> None:
    m = doc["machine"]
    print(f"\n{doc['command']}\n{m['cores']} cores, {m['cpu']}, Python {m['python']}")
    print(f"{doc['messages']} messages, {doc['conversations']} conversations")
    print(f"{'backend':9} {'query':26} {'median ms':>10} {'p95 ms':>8}")
    for r in doc["results"]:
        rows = [*r["summary"].items(), ("HTTP 30 days", r["http_30_days"])]
        for label, s in rows:
            ok = "ok" if s["p95_ms"] < TARGET_MS else "OVER"
            print(f"{r['backend']:9} {label:26} {s['median_ms']:>10} {s['p95_ms']:>8} {ok}")
    load = doc["load"]
    if load:
        print(
            f"events on {load['messages_per_s_on']} msg/s, off {load['messages_per_s_off']} msg/s:"
            f" cost {load['cost_percent']}% of throughput; CPU per message on"
            f" {load['cpu_ms_per_message_on']} ms, off {load['cpu_ms_per_message_off']} ms:"
            f" cost {load['cpu_cost_percent']}% (target < 5%)"
        )
    mixed = doc["interleaved"]
    if mixed:
        on, off = mixed["on"], mixed["off"]
        print(
            f"interleaved {mixed['slice_s']} s slices: CPU per message with events"
            f" {on['cpu_ms_per_message']} ms ({on['messages']} messages), without"
            f" {off['cpu_ms_per_message']} ms ({off['messages']}):"
            f" cost {mixed['cpu_cost_percent']}%; median over {mixed['pairs']} pairs of slices"
            f" {mixed['cpu_cost_percent_median_of_pairs']}%"
        )
        same = doc["interleaved_calibration"]
        print(
            f"  the same with the writers off in both halves (the method's noise):"
            f" {same['on']['cpu_ms_per_message']} vs {same['off']['cpu_ms_per_message']} ms,"
            f" {same['cpu_cost_percent']}%; median of pairs"
            f" {same['cpu_cost_percent_median_of_pairs']}%"
        )
        fold = mixed["folding"]
        print(
            f"  + the rollups folding that run's {fold['events']} events afterwards:"
            f" {fold['cpu_ms_per_message']} ms per message; in all {mixed['total_cost_percent']}%"
        )
    print(f"load average before/after: {doc['load_average']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--load-duration", type=float, default=10.0)
    parser.add_argument("--load-rounds", type=int, default=2)
    parser.add_argument("--interleaved-duration", type=float, default=120.0)
    parser.add_argument("--slice", type=float, default=5.0)
    parser.add_argument("--model", default=str(ROOT / "models" / "nlu.model"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.conversations is None:
        args.conversations = max(1, args.messages // 10)
    doc = asyncio.run(main_async(args))
    report(doc)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(doc, indent=2))
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
