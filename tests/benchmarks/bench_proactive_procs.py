"""The proactive benchmark's service processes and the private stores they run on.

Embedded is one `omnirelay run` over SQLite and in-process memory; scale-out is N
`omnirelay worker` processes over Redis and PostgreSQL. PostgreSQL is a throw-away cluster of
the benchmark's own by default (`BenchPostgres`: the shared server's settings but 300
connections, where the shared one has 100 for every helper's tests, and three workers' pools
alone may open 90) or, with ``--postgres shared``, the shared server; either way the databases
are the benchmark's own (``bench_proactive_<pid>_<tag>``, copied from a seeded template, dropped
afterwards). Redis is the shared server with a private key prefix deleted afterwards: the shared
servers are never flushed or restarted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from sqlalchemy.engine import make_url

from tests.benchmarks.bench_load import free_port, machine
from tests.faults.harness import PG_BIN, PrivatePostgres

__all__ = [
    "PG_URL",
    "REDIS_URL",
    "BenchPostgres",
    "PgDatabases",
    "Service",
    "cpu_seconds",
    "drop_redis_prefix",
    "load_average",
    "machine",
    "machine_busy",
]

PG_URL = os.environ.get(
    "OMNIRELAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("OMNIRELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat from field 3 (state) on; [] when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU time of a process so far (0 when it is gone); ``reaped``: plus that
    of its children that ended."""
    fields = _stat(pid)
    if not fields:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def load_average() -> float:
    """The machine's one-minute load average (other work shares the cores)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return float(total - idle), float(total)


class BenchPostgres(PrivatePostgres):
    """A private cluster: fsync and synchronous commit on (as the shared server), 300
    connections."""

    def _ctl(self, action: str, *extra: str) -> None:
        opts = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            "-c max_connections=300 -c shared_buffers=128MB"
        )
        argv = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w"]
        self._run(*argv, "-t", "60", "-o", opts, *extra, action)

    def cpu(self) -> float:
        """CPU seconds of the whole cluster so far: the postmaster, its ended children (the
        backends of closed connections too) and the running ones."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        total = cpu_seconds(postmaster, reaped=True)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = _stat(entry.name)
                if fields and int(fields[1]) == postmaster:
                    total += cpu_seconds(int(entry.name))
        return total


class PgDatabases:
    """The benchmark's databases on a PostgreSQL server, dropped by `drop_all`."""

    def __init__(self, url: str = PG_URL, cluster: BenchPostgres | None = None) -> None:
        self.admin = make_url(url).set(drivername="postgresql").render_as_string(False)
        self.base = make_url(url)
        self.cluster = cluster  # a private one: its CPU is all the benchmark's
        self.names: list[str] = []

    async def create(self, tag: str, template: str | None = None) -> str:
        """A new database ``bench_proactive_<pid>_<tag>``; returns its SQLAlchemy URL."""
        name = f"bench_proactive_{os.getpid()}_{tag}"
        suffix = f' TEMPLATE "{template}"' if template else ""
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await self._admin(f'CREATE DATABASE "{name}"{suffix}')
        self.names.append(name)
        return self.url(name)

    def url(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    def name(self, url: str) -> str:
        return str(make_url(url).database)

    async def backend_cpu(self, name: str) -> float:
        """CPU seconds of the server so far: the whole private cluster, else the shared
        server's processes serving ``name`` now (its open connections: an estimate)."""
        if self.cluster is not None:
            return self.cluster.cpu()
        conn = await asyncpg.connect(self.admin)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await conn.close()
        return sum(cpu_seconds(int(r["pid"])) for r in rows)

    async def drop_all(self) -> None:
        for name in self.names:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


async def drop_redis_prefix(prefix: str, url: str = REDIS_URL) -> int:
    """Delete the keys under ``prefix:`` (SCAN, never KEYS or FLUSH)."""
    client = aioredis.Redis.from_url(url)
    deleted = 0
    try:
        batch: list[Any] = []
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += await client.delete(*batch)
                batch = []
        if batch:
            deleted += await client.delete(*batch)
    finally:
        await client.aclose()
    return deleted


class Service:
    """``omnirelay run`` (workers=0) or that many ``omnirelay worker`` processes."""

    def __init__(
        self, env: dict[str, str], workdir: Path, workers: int, *, profile: bool = False
    ) -> None:
        # the services run the code of this checkout (an editable install may point elsewhere)
        self.env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **env}
        self.workdir = workdir
        self.workers = workers
        self.profile = profile  # each process under cProfile, written to procN.prof at exit
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self.stack = ExitStack()

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "bots.cli", *args]

    def run_once(self, *args: str) -> None:
        subprocess.run(
            self.cli(*args), env=self.env, cwd=self.workdir, check=True, capture_output=True
        )

    def start(self) -> float:
        """Spawn the processes; returns the monotonic time they were started."""
        started = time.monotonic()
        self.ports = [free_port() for _ in range(max(1, self.workers))]
        for port in self.ports:
            role = "run" if self.workers == 0 else "worker"
            self._spawn(self.cli(role, "--port", str(port)))
        return started

    async def ready(self) -> bool:
        """Every process answers ``/readyz`` with 200."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            for port in self.ports:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                        if r.status != 200:
                            return False
                except (aiohttp.ClientError, TimeoutError):
                    return False
        return True

    def _spawn(self, cmd: list[str]) -> None:
        if self.profile:
            out = self.workdir / f"proc{len(self.procs)}.prof"
            cmd = [cmd[0], "-m", "cProfile", "-o", str(out), *cmd[1:]]
        log = open(self.workdir / f"proc{len(self.procs)}.log", "wb")  # noqa: SIM115
        self.stack.callback(log.close)
        self.procs.append(
            subprocess.Popen(cmd, env=self.env, cwd=self.workdir, stdout=log, stderr=log)
        )

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.stack.close()

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for i in range(len(self.procs)):
            text = (self.workdir / f"proc{i}.log").read_text(errors="replace").splitlines()
            out.append(f"--- proc{i} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)
