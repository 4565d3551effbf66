"""Real `python -m bots.cli ...` processes for the tests that need signals, ports and exits:
started with an environment of the test's own, logs to a file, waited for over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.bots.conftest import TG_SECRET
from tests.fakes import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Omnirelay:
    """One `omnirelay <role>` process; `port` is where its HTTP server is expected."""

    def __init__(
        self, role: str, env: dict[str, str], logfile: Path, port: int, *args: str
    ) -> None:
        self.role = role
        self.port = port
        self.logfile = logfile
        with open(logfile, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bots.cli", role, *args],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")

    async def ready(self, timeout: float = 90) -> None:  # noqa: ASYNC109 (a deadline)
        """Wait until `/readyz` answers 200 (the process started slowly on a busy machine)."""

        async def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.role} exited with {self.proc.returncode}:\n{self.log()}"
                )
            async with aiohttp.ClientSession() as http:
                try:
                    async with http.get(f"{self.url}/readyz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

        await wait_until(up, timeout=timeout, interval=0.05, what=f"{self.role} ready")

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> float:
        """Send ``sig``; returns the monotonic time it was sent."""
        sent = time.monotonic()
        self.proc.send_signal(sig)
        return sent

    async def exited(self, timeout: float = 60) -> int:  # noqa: ASYNC109 (a deadline)
        """Wait for the exit (polling, the loop stays free); returns the exit code."""
        await wait_until(
            lambda: self.proc.poll() is not None,
            timeout=timeout,
            interval=0.01,
            what=f"{self.role} exit",
        )
        return self.proc.returncode

    async def logged(self, text: str, timeout: float = 30) -> None:  # noqa: ASYNC109
        await wait_until(lambda: text in self.log(), timeout=timeout, what=f"log line {text!r}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


async def post_telegram(base_url: str, update: dict[str, Any]) -> int:
    """POST one update to a process's Telegram webhook; the HTTP status."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base_url}/webhooks/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET},
        ) as resp,
    ):
        await resp.read()
        return resp.status


async def metric(base_url: str, name: str) -> float:
    """A metric (summed over its labels) from a process's /metrics; -1 when it is not up."""
    async with aiohttp.ClientSession() as http:
        try:
            async with http.get(f"{base_url}/metrics") as resp:
                text = await resp.text()
        except aiohttp.ClientError:
            return -1.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " "))
    )


async def gather_posts(base_url: str, updates: list[dict[str, Any]]) -> list[int]:
    return list(await asyncio.gather(*(post_telegram(base_url, u) for u in updates)))
