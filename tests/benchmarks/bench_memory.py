"""Memory per unit of load (issue 19): what the sizing in the README rests on.

    python tests/benchmarks/bench_memory.py --out bench-results/memory.json
    python tests/benchmarks/bench_memory.py --parts rss --messages 1000000 --customers 100000

`redis`: the scale-out session store and queue (storage/, the code the workers run) against the
Redis at OMNIRELAY_TEST_REDIS_URL under a private key prefix; N sessions saved and N messages
enqueued through their APIs, measured by `INFO memory` used_memory deltas and `MEMORY USAGE`
samples, then deleted. `postgres`: the rows a turn writes (inbound, transcript, outbox, inbox,
analytics events) for N messages, written by real turns through the embedded app's REST channel
into a fresh PostgreSQL database, then `pg_total_relation_size` per table / N; the same run on
SQLite gives the file's bytes per message. `ops` (bench_memory_ops.py): Redis commands and CPU,
PostgreSQL transactions, rows and CPU, gateway and worker CPU per message in the scale-out shape
(N / 2 messages, a private Redis). `rss`: the embedded service (`omnirelay run`, the
process that does a worker's work) under a closed loop of C connections sending --messages
messages from --customers customers in turn, its RSS sampled every --sample messages.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.benchmarks.bench_load import (  # noqa: E402
    SCRIPT,
    Services,
    machine,
    wait_ready,
)
from tests.benchmarks.bench_load_compare import rss_mb  # noqa: E402


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sender: str, text: str
) -> int:
    """One POST /webhooks/rest on a kept-alive connection (a bare client: the load generator
    shares the two cores with the service, and aiohttp's client costs as much as a turn)."""
    body = json.dumps({"sender": sender, "text": text}).encode()
    head = (
        "POST /webhooks/rest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    header = await reader.readuntil(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    length = 0
    for line in header.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def drive(port: int, total: int, customers: int, concurrency: int, on_done: Any) -> int:
    """Messages 0..total-1 over ``concurrency`` connections; message n comes from customer
    n % customers, so every customer has written once after ``customers`` messages. Returns the
    number of non-200 answers; ``on_done(count)`` after every answer, which stops the run early
    when it returns True."""
    stopped = False
    numbers = itertools.takewhile(lambda _: not stopped, range(total))
    done = itertools.count(1)
    errors = 0

    async def connection() -> None:
        nonlocal errors, stopped
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in numbers:
                sender = f"mem{n % customers}"
                text = SCRIPT[(n // customers) % len(SCRIPT)]
                if await _post(reader, writer, sender, text) != 200:
                    errors += 1
                stopped = stopped or bool(on_done(next(done)))
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return errors


def start_embedded(workdir: Path, model: Path, database_url: str) -> Services:
    """`omnirelay run` (the embedded service) on ``database_url``, migrated and seeded."""
    services = Services("embedded", "http://127.0.0.1:9", workdir, model)
    env = services.env()
    env["OMNIRELAY_DATABASE_URL"] = database_url
    env.pop("OMNIRELAY_REDIS_URL", None)
    cli = [sys.executable, "-m", "bots.cli"]
    services._run_once([*cli, "db", "upgrade"], env)
    services._run_once([*cli, "demo", "seed"], env)
    services._spawn([*cli, "run", "--port", str(services.port)], env)
    return services


async def rss_part(args: argparse.Namespace, model: Path) -> dict[str, Any]:
    """The service's RSS every ``args.sample`` messages over ``args.messages``."""
    import aiohttp

    workdir = Path(tempfile.mkdtemp(prefix="omnirelay-mem-"))
    services = start_embedded(workdir, model, f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
    pid = services.procs[0].pid
    samples: list[dict[str, Any]] = []
    t0 = time.monotonic()
    last = [t0, 0]

    def on_done(count: int) -> bool:
        if count % args.sample and count != args.messages:
            return False
        now = time.monotonic()
        rate = (count - last[1]) / max(now - last[0], 1e-9)
        last[:] = [now, count]
        row = {
            "messages": count,
            "rss_mb": rss_mb(pid),
            "elapsed_s": round(now - t0, 1),
            "messages_per_s": round(rate, 1),
            "loadavg": loadavg(),
        }
        samples.append(row)
        print(json.dumps(row), flush=True)
        return args.until is not None and time.strftime("%H:%M", time.gmtime()) >= args.until

    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(f"http://127.0.0.1:{services.port}", session)
        start_rss = rss_mb(pid)
        print(json.dumps({"messages": 0, "rss_mb": start_rss}), flush=True)
        errors = await drive(
            services.port, args.messages, args.customers, args.concurrency, on_done
        )
        db_bytes = (workdir / "bench.db").stat().st_size
    finally:
        services.stop()
    return {
        "messages_asked": args.messages,
        "messages": samples[-1]["messages"] if samples else 0,
        "customers": args.customers,
        "concurrency": args.concurrency,
        "errors": errors,
        "rss_mb_at_start": start_rss,
        "samples": samples,
        "sqlite_file_bytes": db_bytes,
        "sqlite_bytes_per_message": round(db_bytes / max(samples[-1]["messages"], 1)),
    }


async def _wait_settled(pg: Any) -> None:
    """Until every inbox row is done and the event count stops moving (batched writers)."""
    last = -1
    while True:
        pending = await pg.fetchval("SELECT count(*) FROM inbox WHERE done_at IS NULL")
        events = await pg.fetchval("SELECT count(*) FROM analytics_events")
        if pending == 0 and events == last:
            return
        last = events
        await asyncio.sleep(1.0)


async def _table_sizes(pg: Any) -> dict[str, int]:
    rows = await pg.fetch(
        "SELECT relname, pg_total_relation_size(relid) AS size FROM pg_statio_user_tables"
    )
    return {r["relname"]: int(r["size"]) for r in rows}


async def turns_part(args: argparse.Namespace, model: Path, kind: str) -> dict[str, Any]:
    """N real turns through the embedded app's REST channel, on PostgreSQL or SQLite: the bytes
    they leave per message, per table (PostgreSQL) or in the file (SQLite)."""
    import aiohttp
    import asyncpg

    from tests.conftest import drop_postgres_database, fresh_postgres_database

    workdir = Path(tempfile.mkdtemp(prefix="omnirelay-mem-"))
    admin = os.environ.get(
        "OMNIRELAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    name, url = fresh_postgres_database(admin) if kind == "postgres" else ("", "")
    url = url or f"sqlite+aiosqlite:///{workdir / 'turns.db'}"
    n, customers = args.n, max(1, args.n // 10)
    out: dict[str, Any] = {"messages": n, "customers": customers}
    try:
        services = start_embedded(workdir, model, url)
        try:
            async with aiohttp.ClientSession() as session:
                await wait_ready(f"http://127.0.0.1:{services.port}", session)
            before_file = _file_bytes(workdir)
            pg = await asyncpg.connect(url.replace("+asyncpg", "")) if name else None
            before = await _table_sizes(pg) if pg else {}
            out["errors"] = await drive(services.port, n, customers, 32, lambda _: False)
            if pg is not None:
                await _wait_settled(pg)
        finally:
            services.stop()
        if pg is None:
            grown = _file_bytes(workdir) - before_file
            return {**out, "file_bytes": grown, "bytes_per_message": round(grown / n)}
        after = await _table_sizes(pg)
        grown_by = {t: after[t] - before.get(t, 0) for t in after if after[t] > before.get(t, 0)}
        out["bytes_per_message_by_table"] = {
            t: round(b / n) for t, b in sorted(grown_by.items(), key=lambda x: -x[1])
        }
        out["bytes_per_message"] = round(sum(grown_by.values()) / n)
        out["rows_per_message"] = {
            t: round(await pg.fetchval(f"SELECT count(*) FROM {t}") / n, 2)
            for t in ("messages", "inbox", "analytics_events")
        }
        out["_samples"] = await _samples(pg)
        await pg.close()
        return out
    finally:
        if name:
            drop_postgres_database(admin, name)


def _file_bytes(workdir: Path) -> int:
    return sum(p.stat().st_size for p in workdir.glob("turns.db*"))


async def _samples(pg: Any) -> dict[str, list[Any]]:
    """Real session snapshots and queue bodies of the run, for the Redis part."""
    snaps = await pg.fetch(
        "SELECT session_snapshot FROM messages WHERE session_snapshot IS NOT NULL "
        "ORDER BY id DESC LIMIT 500"
    )
    bodies = await pg.fetch("SELECT ordering_key, body FROM inbox ORDER BY id DESC LIMIT 500")
    return {
        "sessions": [json.loads(r["session_snapshot"]) for r in snaps],
        "queued": [(r["ordering_key"], bytes(r["body"])) for r in bodies],
    }


async def redis_part(args: argparse.Namespace, samples: dict[str, list[Any]]) -> dict[str, Any]:
    """N sessions saved and N messages offered through the scale-out backends (the code the
    gateway and the workers run) under a private key prefix; bytes each, then deleted."""
    from storage.backends import open_backends
    from storage.inbox_queue import QueueBounds, work_queue
    from storage.sessions import Session

    url = os.environ.get("OMNIRELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"benchmem{uuid.uuid4().hex[:8]}"
    backends = await open_backends(url, keys_prefix=prefix, partitions=16)
    redis, n = backends.redis, args.n
    assert redis is not None and backends.keys is not None
    queue = work_queue(backends.queue, redis, backends.keys, QueueBounds())
    out: dict[str, Any] = {"n": n, "redis_url": url, "key_prefix": prefix}
    try:
        for p in range(queue.partitions):
            await queue.restore(p, [])
        used0 = (await redis.info("memory"))["used_memory"]
        for start in range(0, n, 500):
            saves = []
            for i in range(start, min(n, start + 500)):
                doc = dict(samples["sessions"][i % len(samples["sessions"])])
                doc.update(customer_id=50_000_000 + i, version=0)
                saves.append(backends.sessions.save(Session.from_dict(doc)))
            await asyncio.gather(*saves)
        used1 = (await redis.info("memory"))["used_memory"]
        for start in range(0, n, 500):
            batch = [
                samples["queued"][i % len(samples["queued"])] for i in range(start, start + 500)
            ]
            await queue.offer(batch[: n - start])
        used2 = (await redis.info("memory"))["used_memory"]
        usage: dict[str, int] = {}
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            name = key.decode() if isinstance(key, bytes) else str(key)
            usage[name] = int(await redis.memory_usage(key, samples=0) or 0)
        sessions = sum(v for k, v in usage.items() if ":session:" in k)
        streams = sum(v for k, v in usage.items() if k.endswith(":stream"))
        out.update(
            session_bytes_used_memory=round((used1 - used0) / n),
            session_bytes_memory_usage=round(sessions / n),
            session_json_bytes=round(
                sum(len(json.dumps(s)) for s in samples["sessions"]) / len(samples["sessions"])
            ),
            queued_bytes_used_memory=round((used2 - used1) / n),
            queued_bytes_memory_usage=round(streams / n),
            queued_body_bytes=round(
                sum(len(b) for _, b in samples["queued"]) / len(samples["queued"])
            ),
        )
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        for i in range(0, len(keys), 1000):
            await redis.delete(*keys[i : i + 1000])
        await backends.close()
    return out


async def main_async(args: argparse.Namespace, model: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "memory",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_at_start": loadavg(),
        "commit": args.commit,
    }
    parts = args.parts.split(",")
    samples: dict[str, list[Any]] = {}
    if "postgres" in parts or "redis" in parts:
        report["postgres"] = await turns_part(args, model, "postgres")
        samples = report["postgres"].pop("_samples")
        print(json.dumps({"postgres": report["postgres"]}), flush=True)
    if "postgres" in parts:
        report["sqlite"] = await turns_part(args, model, "sqlite")
        print(json.dumps({"sqlite": report["sqlite"]}), flush=True)
    if "redis" in parts:
        report["redis"] = await redis_part(args, samples)
        print(json.dumps({"redis": report["redis"]}), flush=True)
    if "ops" in parts:
        from tests.benchmarks.bench_memory_ops import ops_part

        report["scaleout_ops"] = await ops_part(args.n // 2, model, drive)
        print(json.dumps({"scaleout_ops": report["scaleout_ops"]}), flush=True)
    if "rss" in parts:
        report["worker_rss"] = await rss_part(args, model)
    report["loadavg_at_end"] = loadavg()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", default="redis,postgres,ops,rss")
    parser.add_argument("--n", type=int, default=10_000, help="sessions/messages for redis, pg")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--sample", type=int, default=50_000)
    parser.add_argument(
        "--until", default=None, help="HH:MM UTC: the rss part ends at the first sample after it"
    )
    parser.add_argument("--model", default=str(ROOT / "models" / "nlu.model"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    model = Path(args.model).resolve()
    if not model.exists():
        print(f"training the bundled NLU model into {model} ...", flush=True)
        cmd = [sys.executable, "-m", "bots.cli", "nlu", "train", "--out", str(model)]
        subprocess.run(cmd, check=True, cwd=ROOT)
    args.commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    report = asyncio.run(main_async(args, model))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
