"""Processes and services of the fault campaign: a private Redis and PostgreSQL that may be
restarted at will, and the omnirelay topology (one gateway, N workers) as real processes.

Nothing here touches the shared servers on 5432/6379: every service is started on a free port
in a temp directory and stopped at the end. Blocking steps (initdb, pg_ctl, waiting for a
process to exit) run in threads, because the fake platforms share the caller's event loop and a
blocked loop would look like a platform outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp
import asyncpg

from tests.fakes import wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """One child process with its log file; can be killed, stopped, continued, restarted."""

    def __init__(
        self, name: str, argv: list[str], env: Mapping[str, str], log: Path, port: int = 0
    ) -> None:
        self.name, self.argv, self.env, self.log = name, argv, dict(env), log
        self.port = port  # where it serves HTTP (0: it does not)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with open(self.log, "ab") as out:
            out.write(f"\n==== start #{self.starts + 1} of {self.name} ====\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=self.log.parent
            )
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} never started"
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: signal.Signals) -> None:
        if self.alive:
            os.kill(self.pid, sig)

    async def stop(self, sig: signal.Signals = signal.SIGTERM, grace: float = 20.0) -> None:
        """Send `sig` and wait for the exit; SIGKILL after `grace` seconds."""
        if not self.alive:
            return
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            os.kill(self.pid, sig)
        proc = self.proc
        try:
            await asyncio.to_thread(proc.wait, grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def count(self, needle: str) -> int:
        """Lines of this process's log that contain `needle`."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return 0
        return sum(needle in line for line in text.splitlines())


class PrivateRedis:
    """A redis-server of our own, with or without the compose file's persistence."""

    def __init__(self, workdir: Path, *, persistent: bool) -> None:
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.persistent = persistent
        durability = ["--appendonly", "yes"] if persistent else ["--appendonly", "no"]
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.dir), "--save", "", *durability, "--daemonize", "no"]
        self.proc = Proc("redis", argv, os.environ, self.dir / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc.start()
        await wait_until(self._pong, timeout=30, interval=0.05, what="private Redis up")

    async def wipe(self) -> None:
        """Delete the AOF and RDB files: the restart comes back empty, as without persistence."""
        await asyncio.to_thread(shutil.rmtree, self.dir / "appendonlydir", True)
        for name in ("dump.rdb",):
            (self.dir / name).unlink(missing_ok=True)

    async def crash(self) -> None:
        """SIGKILL: what an OOM kill or a lost node does. The AOF (when on) keeps what the
        kernel already has; without persistence everything is gone."""
        await self.proc.stop(signal.SIGKILL)

    async def stop(self) -> None:
        await self.proc.stop(signal.SIGTERM, grace=10)

    async def _pong(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.readline(), 2)).startswith(b"+PONG")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb as the postgres user) on a free port."""

    def __init__(self) -> None:
        # in the system temp dir: the postgres user must reach it (our workdirs are 0700)
        self.base = Path(tempfile.mkdtemp(prefix="omnirelay-faults-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.log = self.base / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr.decode(errors='replace')}")

    def _ctl(self, action: str, *extra: str) -> None:
        opts = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        argv = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w"]
        self._run(*argv, "-t", "60", "-o", opts, *extra, action)

    async def init(self) -> None:
        """initdb (trust auth) and start."""
        shutil.chown(self.base, "postgres", "postgres")
        await asyncio.to_thread(
            self._run, str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )
        await self.start()

    async def start(self) -> None:
        await asyncio.to_thread(self._ctl, "start")

    async def stop(self, mode: str = "fast") -> None:
        await asyncio.to_thread(self._ctl, "stop", "-m", mode)

    async def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            await self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    async def execute(self, *statements: str, database: str = "postgres") -> None:
        conn = await asyncpg.connect(self._dsn(database), timeout=10)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def fetchval(self, query: str, database: str) -> object:
        conn = await asyncpg.connect(self._dsn(database), timeout=5)
        try:
            return await conn.fetchval(query)
        finally:
            await conn.close()


class Topology:
    """`python -m bots.cli gateway` and N `python -m bots.cli worker`, each on its own port."""

    def __init__(self, env: Mapping[str, str], logdir: Path, workers: int = 3) -> None:
        self.env = {**os.environ, **env}
        self.logdir = logdir
        self.gateway_port = free_port()
        self.gateway = self._proc("gateway", self.gateway_port)
        self.workers = [self._proc(f"worker{i}", free_port()) for i in range(workers)]

    def _proc(self, name: str, port: int) -> Proc:
        role = "gateway" if name == "gateway" else "worker"
        argv = [sys.executable, "-m", "bots.cli", role, "--port", str(port)]
        return Proc(name, argv, self.env, self.logdir / f"{name}.log", port)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def procs(self) -> list[Proc]:
        return [self.gateway, *self.workers]

    async def start(self, within: float = 120.0) -> None:
        """Start everything; return once each answers /healthz and every worker owns a
        partition (so all of them take part from the first message)."""
        for proc in self.procs:
            proc.start()
        await self.ready(within)

    async def ready(self, within: float = 120.0) -> None:
        """Every process up (started again if it died) and every worker owning partitions."""
        for proc in self.procs:
            if not proc.alive:
                proc.start()
        await self.wait_healthy(self.gateway, within)
        for worker in self.workers:
            await self.wait_owning(worker, within)

    async def restart(self, proc: Proc, sig: signal.Signals, within: float = 120.0) -> float:
        """Stop `proc` with `sig`, start it again, wait until healthy; seconds it took."""
        began = time.monotonic()
        await proc.stop(sig)
        proc.start()
        await self.wait_healthy(proc, within)
        return time.monotonic() - began

    async def wait_healthy(self, proc: Proc, within: float) -> None:
        port = proc.port

        async def up() -> bool:
            if not proc.alive:
                raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
            return await _get_ok(f"http://127.0.0.1:{port}/healthz")

        await wait_until(up, timeout=within, interval=0.1, what=f"{proc.name} healthy")

    async def wait_owning(self, proc: Proc, within: float) -> None:
        await self.wait_healthy(proc, within)
        await wait_until(
            lambda: self.metric(proc, "omnirelay_queue_partitions_owned "),
            timeout=within,
            interval=0.2,
            what=f"{proc.name} owns partitions",
        )

    async def metric(self, proc: Proc, prefix: str) -> float | None:
        """A metric (summed over labels) from `proc`'s /metrics; None when it does not answer."""
        port = proc.port
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
                http.get(f"http://127.0.0.1:{port}/metrics") as resp,
            ):
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            return None
        return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(prefix))

    async def stop(self) -> None:
        await asyncio.gather(*(p.stop() for p in self.procs))

    def log_counts(self, needles: tuple[str, ...]) -> dict[str, int]:
        """How often each needle appears across all the processes' logs."""
        return {n: sum(p.count(n) for p in self.procs) for n in needles}


async def _get_ok(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http,
            http.get(url) as resp,
        ):
            return resp.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False
