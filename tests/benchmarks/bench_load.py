"""Closed-loop load test on loopback: C simulated customers, each sending its next message when
the previous one is answered, for D seconds, against `/webhooks/rest` and `/webhooks/telegram`
(replies observed at a fake Bot API running in this process).

    python tests/benchmarks/bench_load.py --mode embedded --out bench-results/load-embedded.json
    python tests/benchmarks/bench_load.py --mode scaleout --out bench-results/load-scaleout.json

`embedded` starts `omnirelay run` (SQLite + in-process memory). `scaleout` starts one
`omnirelay gateway` and two `omnirelay worker` processes over Redis + a throw-away PostgreSQL
database. Prints a table and writes JSON: messages/s, p50/p99 latency, errors, lost and
duplicated replies, and the machine it ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.benchmarks.bench_load_compare import rss_mb  # noqa: E402
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram  # noqa: E402

SECRET = "bench-secret"
SCRIPT = ["hi", "order A1001", "where is my order", "A1003", "thanks", "статус замовлення A1005"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


class Services:
    """The service processes under test."""

    def __init__(self, mode: str, tg_base: str, workdir: Path, model: Path) -> None:
        self.mode = mode
        self.tg_base = tg_base
        self.workdir = workdir
        self.model = model
        self.port = free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.worker_ports: list[int] = []
        self.stack = ExitStack()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            # the services run the code of this checkout (an editable install may point elsewhere)
            PYTHONPATH=str(ROOT),
            # 32 closed-loop customers each write many times a second: a flood by the per-sender
            # abuse limit's measure, which real customers do not come near
            OMNIRELAY_INBOUND_RATE_BURST="0",
            OMNIRELAY_TELEGRAM_TOKEN=DEFAULT_TOKEN,
            OMNIRELAY_TELEGRAM_WEBHOOK_SECRET=SECRET,
            OMNIRELAY_TELEGRAM_API_BASE=self.tg_base,
            OMNIRELAY_NLU_MODEL=str(self.model),
            OMNIRELAY_NLU_REVIEW_LOG=str(self.workdir / "review.jsonl"),
            OMNIRELAY_LOG_LEVEL="WARNING",
            OMNIRELAY_DEFAULT_LANGUAGE="en",
            # The fake Bot API enforces no limits; with Telegram's 1 message/s per chat the
            # closed loop would measure the pacing, not the pipeline.
            OMNIRELAY_OUTBOUND_RATE_LIMITS="false",
        )
        return env

    def start(self) -> str:
        env = self.env()
        cli = [sys.executable, "-m", "bots.cli"]
        if self.mode == "embedded":
            env["OMNIRELAY_DATABASE_URL"] = f"sqlite+aiosqlite:///{self.workdir / 'bench.db'}"
            env.pop("OMNIRELAY_REDIS_URL", None)
            self._run_once([*cli, "db", "upgrade"], env)
            self._run_once([*cli, "demo", "seed"], env)
            self._spawn([*cli, "run", "--port", str(self.port)], env)
        else:
            from tests.conftest import drop_postgres_database, fresh_postgres_database

            pg = os.environ.get(
                "OMNIRELAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
            )
            name, url = fresh_postgres_database(pg)
            self.stack.callback(drop_postgres_database, pg, name)
            env["OMNIRELAY_DATABASE_URL"] = url
            env["OMNIRELAY_REDIS_URL"] = os.environ.get(
                "OMNIRELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"
            )
            env["OMNIRELAY_REDIS_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}"
            self._run_once([*cli, "db", "upgrade"], env)
            self._run_once([*cli, "demo", "seed"], env)
            self._spawn([*cli, "gateway", "--port", str(self.port)], env)
            for _ in range(2):
                port = free_port()
                self.worker_ports.append(port)
                self._spawn([*cli, "worker", "--port", str(port)], env)
        return f"http://127.0.0.1:{self.port}"

    def _run_once(self, cmd: list[str], env: dict[str, str]) -> None:
        subprocess.run(cmd, env=env, cwd=self.workdir, check=True, capture_output=True)

    def _spawn(self, cmd: list[str], env: dict[str, str]) -> None:
        log = open(self.workdir / f"proc{len(self.procs)}.log", "wb")  # noqa: SIM115
        self.stack.callback(log.close)
        self.procs.append(subprocess.Popen(cmd, env=env, cwd=self.workdir, stdout=log, stderr=log))

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.stack.close()


async def wait_workers(ports: list[int], session: aiohttp.ClientSession) -> None:
    """Scale-out: every worker process holds queue partitions (start-up rebalancing done)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        owned = []
        for port in ports:
            try:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as r:
                    text = await r.text()
            except aiohttp.ClientError:
                owned.append(0.0)
                continue
            owned.extend(
                float(line.split()[-1])
                for line in text.splitlines()
                if line.startswith("omnirelay_queue_partitions_owned ")
            )
        if len(owned) == len(ports) and all(o > 0 for o in owned):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("workers did not share the queue partitions within 120 s")


async def wait_ready(base: str, session: aiohttp.ClientSession, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/readyz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.25)
    raise RuntimeError(f"{base} not ready after {limit}s")


class TelegramWatcher:
    """Counts sendMessage calls per chat at the fake and wakes the waiting customer."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.counts: dict[str, int] = defaultdict(int)
        self.waiters: dict[str, asyncio.Event] = {}
        self.any_reply = asyncio.Event()
        fake.add_listener(self.on_call)

    def on_call(self, method: str, params: dict[str, Any], status: int) -> None:
        if method != "sendMessage" or status != 200:
            return
        chat = str(params.get("chat_id"))
        self.counts[chat] += 1
        self.any_reply.set()
        event = self.waiters.get(chat)
        if event is not None:
            event.set()


async def run_load(
    base: str,
    channel: str,
    concurrency: int,
    duration: float,
    watcher: TelegramWatcher | None,
    on_reply: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """A closed loop of ``concurrency`` customers for ``duration`` seconds; ``on_reply`` is told
    of every answered message as it is answered (bench_analytics_load's interleaved phases)."""
    latencies: list[float] = []
    errors = 0
    sent_per_customer: dict[str, int] = defaultdict(int)
    update_ids = itertools.count(int(time.time() * 1000) % 1_000_000_000)
    stop_at = time.monotonic() + duration
    run_tag = uuid.uuid4().int % 10_000_000
    connector = aiohttp.TCPConnector(limit=concurrency + 8)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def customer(i: int) -> None:
            nonlocal errors
            chat_id = 5_000_000_000 + run_tag * 1000 + i
            key = str(chat_id)
            for n in itertools.count():
                if time.monotonic() >= stop_at:
                    return
                text = SCRIPT[n % len(SCRIPT)]
                started = time.perf_counter()
                try:
                    if channel == "rest":
                        async with session.post(
                            f"{base}/webhooks/rest", json={"sender": key, "text": text}
                        ) as r:
                            await r.read()
                            if r.status != 200:
                                errors += 1
                                continue
                    else:
                        assert watcher is not None
                        event = watcher.waiters.setdefault(key, asyncio.Event())
                        expected = watcher.counts[key] + 1
                        update = {
                            "update_id": next(update_ids),
                            "message": {
                                "message_id": n + 1,
                                "date": int(time.time()),
                                "chat": {"id": chat_id, "type": "private", "first_name": "B"},
                                "from": {"id": chat_id, "is_bot": False, "first_name": "B"},
                                "text": text,
                            },
                        }
                        async with session.post(
                            f"{base}/webhooks/telegram",
                            json=update,
                            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                        ) as r:
                            await r.read()
                            if r.status != 200:
                                errors += 1
                                continue
                        while watcher.counts[key] < expected:
                            event.clear()
                            try:
                                await asyncio.wait_for(event.wait(), timeout=10)
                            except TimeoutError:
                                errors += 1
                                break
                    sent_per_customer[key] += 1
                    latencies.append((time.perf_counter() - started) * 1000)
                    if on_reply is not None:
                        on_reply()
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1

        t0 = time.monotonic()
        await asyncio.gather(*(customer(i) for i in range(concurrency)))
        elapsed = time.monotonic() - t0

    lost = duplicated = 0
    if watcher is not None:
        # Late replies are late, not lost: wait up to 30 s for every one before counting.
        grace_end = time.monotonic() + 30
        while time.monotonic() < grace_end and any(
            watcher.counts.get(k, 0) < n for k, n in sent_per_customer.items()
        ):
            watcher.any_reply.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watcher.any_reply.wait(), 0.5)
        await asyncio.sleep(1.0)  # and a moment for duplicates to show
        for key, sent in sent_per_customer.items():
            got = watcher.counts.get(key, 0)
            lost += max(0, sent - got)
            duplicated += max(0, got - sent)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "channel": channel,
        "concurrency": concurrency,
        "duration_s": round(elapsed, 2),
        "messages": len(latencies),
        "messages_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(q[49], 2),
        "p99_ms": round(q[98], 2),
        "errors": errors,
        "lost_replies": lost,
        "duplicated_replies": duplicated,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="omnirelay-bench-"))
    model = Path(args.model)
    results: list[dict[str, Any]] = []
    async with FakeTelegram(DEFAULT_TOKEN, record=False) as fake:
        watcher = TelegramWatcher(fake)
        services = Services(args.mode, fake.base_url, workdir, model)
        base = services.start()
        try:
            async with aiohttp.ClientSession() as session:
                await wait_ready(base, session)
                await wait_workers(services.worker_ports, session)
            for channel in args.channels.split(","):
                for c in [int(x) for x in args.concurrency.split(",")]:
                    r = await run_load(
                        base, channel, c, args.duration, watcher if channel == "telegram" else None
                    )
                    r["mode"] = args.mode
                    r["model"] = str(model)
                    r["rss_mb"] = [rss_mb(p.pid) for p in services.procs]
                    results.append(r)
                    print(json.dumps(r), flush=True)
        finally:
            services.stop()
    return {
        "benchmark": "closed-loop load",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["embedded", "scaleout"], default="embedded")
    parser.add_argument("--channels", default="rest,telegram")
    parser.add_argument("--concurrency", default="32,128")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--model", default=str(ROOT / "models" / "nlu.model"))
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--compare", default=None,
        help="a second model file: runs alternate between it and --model (--rounds each), so a "
        "change of model is measured under the same load",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.compare:
        from tests.benchmarks.bench_load_compare import compare

        compare(args)
        return
    model = Path(args.model).resolve()
    if not model.exists():
        print(f"training the bundled NLU model into {model} ...", flush=True)
        cmd = [sys.executable, "-m", "bots.cli", "nlu", "train", "--out", str(model)]
        subprocess.run(cmd, check=True, cwd=ROOT)
    args.model = str(model)
    report = asyncio.run(main_async(args))
    header = (
        f"{'mode':9} {'channel':9} {'C':>4} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'lost':>5} {'dup':>4}"
    )
    print(header)
    for r in report["results"]:
        print(
            f"{r['mode']:9} {r['channel']:9} {r['concurrency']:>4} {r['messages_per_s']:>8} "
            f"{r['p50_ms']:>8} {r['p99_ms']:>8} {r['errors']:>6} {r['lost_replies']:>5} "
            f"{r['duplicated_replies']:>4}"
        )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
