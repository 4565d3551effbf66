"""`bench_memory.py --parts ops`: what one message costs Redis and PostgreSQL in the scale-out
shape (one gateway, two workers), for the README's sizing: Redis commands and Redis CPU per
message, PostgreSQL transactions, rows and round trips per message.

Redis's counters (`INFO commandstats`, `INFO cpu`) are the whole server's, and the shared Redis
serves the other tests too: this part starts a private `redis-server` (no persistence) on a free
port for its run. PostgreSQL's are read from `pg_stat_database` of the run's own database; its
round trips are the data segments the services' sockets to it sent (`ss -ti`: asyncpg writes
each message, BEGIN, a statement's Bind/Execute/Sync or COMMIT, at once, and TCP_NODELAY sends
each write as a segment), sampled while the run goes so that a connection closed meanwhile
(the pool's overflow) is counted up to its last sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis

from tests.benchmarks.bench_load import Services, free_port, wait_ready, wait_workers


async def _redis_counters(r: aioredis.Redis) -> tuple[int, int, float]:
    """(commands, command µs) since the last CONFIG RESETSTAT, and the server's CPU seconds."""
    stats = await r.info("commandstats")
    calls = sum(int(v["calls"]) for v in stats.values())
    usec = sum(int(v["usec"]) for v in stats.values())
    cpu = await r.info("cpu")
    return calls, usec, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (Linux; a gone one counts 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


async def _pg_counters(url: str) -> tuple[int, int, int, float]:
    """(transactions committed, rolled back, rows inserted + updated + deleted) of the run's
    database, and the CPU seconds of the server processes connected to it."""
    import asyncpg

    pg = await asyncpg.connect(url)
    try:
        row = await pg.fetchrow(
            "SELECT xact_commit, xact_rollback, tup_inserted + tup_updated + tup_deleted AS rows "
            "FROM pg_stat_database WHERE datname = current_database()"
        )
        pids = await pg.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        cpu = cpu_seconds([int(p["pid"]) for p in pids])
        return int(row["xact_commit"]), int(row["xact_rollback"]), int(row["rows"]), cpu
    finally:
        await pg.close()


async def pg_segments(pids: set[int], port: int) -> dict[tuple[int, str], int]:
    """Data segments sent so far on each connection of these processes to PostgreSQL's
    ``port``: (pid, local address) -> count (`ss -tinp`)."""
    proc = await asyncio.create_subprocess_exec(
        *["ss", "-tinpH", "state", "established", f"( dport = :{port} )"],
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    counts: dict[tuple[int, str], int] = {}
    for block in re.split(r"\n(?=\S)", out.decode().strip()):
        owner = re.search(r"pid=(\d+)", block)
        if owner is None or int(owner.group(1)) not in pids:
            continue
        sent = re.search(r"data_segs_out:(\d+)", block)
        counts[(int(owner.group(1)), block.split()[2])] = int(sent.group(1)) if sent else 0
    return counts


class SegmentWatch:
    """The PostgreSQL round trips of some processes between `start` and `stop`."""

    def __init__(self, pids: list[int], port: int) -> None:
        self.pids, self.port = set(pids), port
        self.first: dict[tuple[int, str], int] = {}
        self.last: dict[tuple[int, str], int] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.first = await pg_segments(self.pids, self.port)
        self.last = dict(self.first)
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.last.update(await pg_segments(self.pids, self.port))

    async def stop(self) -> dict[int, int]:
        """Round trips per process."""
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.last.update(await pg_segments(self.pids, self.port))
        per_pid = dict.fromkeys(self.pids, 0)
        for key, sent in self.last.items():
            per_pid[key[0]] += sent - self.first.get(key, 0)
        return per_pid


async def ops_part(n: int, model: Path, drive: Any) -> dict[str, Any]:
    """``n`` messages (from n / 10 customers) through a gateway and two workers over a private
    Redis and a fresh PostgreSQL database, after ``n // 5`` warm-up messages."""
    workdir = Path(tempfile.mkdtemp(prefix="omnirelay-mem-"))
    services = Services("scaleout", "http://127.0.0.1:9", workdir, model)
    with private_redis() as port:
        r = aioredis.Redis(port=port)
        try:
            return await _measure(services, r, n, drive)
        finally:
            await r.aclose()
            services.stop()


@contextlib.contextmanager
def private_redis() -> Iterator[int]:
    """A throw-away `redis-server` on a free port, named by OMNIRELAY_TEST_REDIS_URL meanwhile
    (the variable `Services` reads for the scale-out processes)."""
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    saved = os.environ.get("OMNIRELAY_TEST_REDIS_URL")
    os.environ["OMNIRELAY_TEST_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        client.close()
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)
        if saved is None:
            os.environ.pop("OMNIRELAY_TEST_REDIS_URL", None)
        else:
            os.environ["OMNIRELAY_TEST_REDIS_URL"] = saved


async def _measure(services: Services, r: aioredis.Redis, n: int, drive: Any) -> dict[str, Any]:
    import aiohttp

    services.start()
    db_url = _database_url(services)
    async with aiohttp.ClientSession() as session:
        await wait_ready(f"http://127.0.0.1:{services.port}", session)
        await wait_workers(services.worker_ports, session)
    customers = max(1, n // 10)
    await drive(services.port, n // 5, customers, 32, lambda _: False)
    await r.config_resetstat()
    cpu0 = (await _redis_counters(r))[2]
    xacts0, rolled0, rows0, pg_cpu0 = await _pg_counters(db_url)
    gateway, workers = services.procs[0].pid, [p.pid for p in services.procs[1:]]
    gw_cpu0, w_cpu0 = cpu_seconds([gateway]), cpu_seconds(workers)
    wire = SegmentWatch([gateway, *workers], int(urlsplit(db_url).port or 5432))
    await wire.start()
    t0 = time.monotonic()
    errors = await drive(services.port, n, customers, 32, lambda _: False)
    elapsed = time.monotonic() - t0
    trips = await wire.stop()
    calls, usec, cpu1 = await _redis_counters(r)
    gw_cpu, w_cpu = cpu_seconds([gateway]) - gw_cpu0, cpu_seconds(workers) - w_cpu0
    await asyncio.sleep(1.0)  # PostgreSQL publishes a backend's counters within a second
    xacts1, rolled1, rows1, pg_cpu1 = await _pg_counters(db_url)
    return {
        "messages": n,
        "errors": errors,
        "messages_per_s": round(n / elapsed, 1),
        "redis_commands_per_message": round(calls / n, 1),
        "redis_command_us_per_message": round(usec / n, 1),
        "redis_cpu_us_per_message": round((cpu1 - cpu0) * 1e6 / n, 1),
        "postgres_transactions_per_message": round((xacts1 - xacts0) / n, 2),
        "postgres_rollbacks_per_message": round((rolled1 - rolled0) / n, 2),
        "postgres_round_trips_per_message_gateway": round(trips[gateway] / n, 2),
        "postgres_round_trips_per_message_workers": round(sum(trips[w] for w in workers) / n, 2),
        "postgres_rows_written_per_message": round((rows1 - rows0) / n, 2),
        "postgres_backend_cpu_us_per_message": round((pg_cpu1 - pg_cpu0) * 1e6 / n, 1),
        "gateway_cpu_us_per_message": round(gw_cpu * 1e6 / n, 1),
        "worker_cpu_us_per_message": round(w_cpu * 1e6 / n, 1),
    }


def _database_url(services: Services) -> str:
    """The scale-out run's fresh database, as its gateway was given it (asyncpg's form)."""
    environ = Path(f"/proc/{services.procs[0].pid}/environ").read_bytes().split(b"\0")
    found = next(e for e in environ if e.startswith(b"OMNIRELAY_DATABASE_URL="))
    return found.split(b"=", 1)[1].decode().replace("+asyncpg", "")
