"""A scheduler in a real process of its own, killed (SIGKILL) or stopped (SIGSTOP) between its
claim and its decision's commit: the message goes out exactly once, after the claim's lease,
from another scheduler; a stopped one that wakes up writes nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bots.conftest import channel_settings
from tests.fakes import wait_until
from tests.proactive.rig import Rig, backend_url, fakes, make_rig, new_chat, rig, telegram_texts

__all__ = ["backend_url", "fakes", "make_rig", "rig"]  # fixtures used by the tests below

ROOT = Path(__file__).resolve().parents[2]
LEASE = 1.0


class Child:
    """`tests.proactive.scheduler_proc` running against the rig's database and fakes."""

    def __init__(self, rig: Rig, signals: Path, log: Path) -> None:
        self.signals = signals
        self.log = log
        settings: dict[str, Any] = {"database_url": rig.url, **_plain(rig)}
        config = {
            "settings": settings,
            "clock": rig.clock().isoformat(),
            "lease": LEASE,
            "signals": str(signals),
        }
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.proactive.scheduler_proc", json.dumps(config)],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def claimed(self) -> list[int] | None:
        path = self.signals / f"claimed-{self.proc.pid}"
        if self.proc.poll() is not None:
            raise AssertionError(f"the scheduler process exited:\n{self.log.read_text()}")
        return json.loads(path.read_text()) if path.exists() else None

    def status(self) -> dict[str, Any] | None:
        path = self.signals / f"status-{self.proc.pid}.json"
        try:
            return dict(json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError):  # not written yet, or being written
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(timeout=30)


def _plain(rig: Rig) -> dict[str, Any]:
    values = channel_settings(rig.fakes.telegram, rig.fakes.viber, rig.fakes.instagram)
    return {k: str(v) for k, v in values.items()}


@pytest.fixture
def child(rig: Rig, tmp_path: Path) -> Iterator[Any]:
    started: list[Child] = []

    def start() -> Child:
        signals = tmp_path / f"signals-{len(started)}"
        signals.mkdir()
        c = Child(rig, signals, tmp_path / f"scheduler-{len(started)}.log")
        started.append(c)
        return c

    yield start
    for c in started:
        c.stop()


async def _due_message(rig: Rig) -> tuple[int, int]:
    chat = new_chat()
    customer = await rig.customer(telegram=chat)
    await rig.trigger("order_shipped", customer, variables={"order": "K1", "tracking": "T9"})
    return chat, customer


async def test_a_scheduler_killed_between_claim_and_commit_leaves_exactly_one_send(
    rig: Rig, child: Any
) -> None:
    chat, customer = await _due_message(rig)
    victim = child()
    (job_id,) = await wait_until(victim.claimed, timeout=90, what="the child's claim")
    victim.proc.kill()  # SIGKILL: no cleanup of any kind
    victim.proc.wait(timeout=30)

    # another scheduler takes the job once the dead one's lease has run out, and sends it
    (decision,) = await rig.decided(1, customer)
    assert (decision.job_id, decision.decision) == (job_id, "sent")
    await rig.fakes.telegram.wait_for(lambda: len(telegram_texts(rig.fakes.telegram, chat)) == 1)
    (job,) = await rig.jobs(customer)
    assert job.attempts == 2 and job.claimed_by is None
    for _ in range(3):
        await rig.scheduler.tick()
    assert len(telegram_texts(rig.fakes.telegram, chat)) == 1


async def test_a_scheduler_stopped_past_its_lease_writes_nothing_when_it_wakes(
    rig: Rig, child: Any
) -> None:
    chat, customer = await _due_message(rig)
    sleeper = child()
    await wait_until(sleeper.claimed, timeout=90, what="the child's claim")
    sleeper.proc.send_signal(signal.SIGSTOP)

    (decision,) = await rig.decided(1, customer)  # sent here after the stopped one's lease
    assert decision.decision == "sent"
    await rig.fakes.telegram.wait_for(lambda: len(telegram_texts(rig.fakes.telegram, chat)) == 1)

    (sleeper.signals / "go").write_text("")
    sleeper.proc.send_signal(signal.SIGCONT)
    status = await wait_until(sleeper.status, timeout=30, what="the woken scheduler's round")
    assert status["decided"] == {}  # it found the job gone to another process
    assert f"proactive jobs [{decision.job_id}] are no longer ours" in sleeper.log.read_text()
    assert len(await rig.decisions(customer)) == 1
    assert len(telegram_texts(rig.fakes.telegram, chat)) == 1
    (job,) = await rig.jobs(customer)
    assert job.status == "done" and job.claimed_by is None
