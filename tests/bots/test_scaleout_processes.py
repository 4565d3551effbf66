"""A worker process killed mid-message (Redis + PostgreSQL mode): after a restart the message
is processed and the customer gets exactly one reply.

The gateway runs in this test process; workers are real `omnirelay worker` processes, killed
with SIGKILL (no cleanup, no ack, no lease release)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from storage.db import Database
from tests.bots.conftest import TG_SECRET, new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, text_update

LEASE_MS = 1500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def scaleout_env(
    pg_e2e_url: str,
    redis_url: str,
    nlu_model_path: Path,
    tmp_path: Path,
    fake_telegram: FakeTelegram,
) -> dict[str, str]:
    """The environment shared by the in-test gateway and the worker processes."""
    return {
        "OMNIRELAY_TELEGRAM_API_BASE": fake_telegram.base_url,
        "OMNIRELAY_DATABASE_URL": pg_e2e_url,
        "OMNIRELAY_REDIS_URL": redis_url,
        "OMNIRELAY_REDIS_PREFIX": f"crash{uuid.uuid4().hex[:8]}",
        "OMNIRELAY_NLU_MODEL": str(nlu_model_path),
        "OMNIRELAY_NLU_REVIEW_LOG": str(tmp_path / "review.jsonl"),
        "OMNIRELAY_QUEUE_LEASE_MS": str(LEASE_MS),
        "OMNIRELAY_SEND_LEASE": "3",
        "OMNIRELAY_TELEGRAM_TOKEN": DEFAULT_TOKEN,
        "OMNIRELAY_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "OMNIRELAY_DEFAULT_LANGUAGE": "en",
        "OMNIRELAY_LOG_LEVEL": "INFO",
    }


class Workers:
    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = {**os.environ, **env}
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"worker{len(self.procs)}.log", "wb")  # noqa: SIM115
        port = _free_port()
        self.ports.append(port)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "worker", "--port", str(port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logdir.glob("*.log")))

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def workers(scaleout_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], Workers]]:
    made: list[Workers] = []

    def factory() -> Workers:
        w = Workers(scaleout_env, tmp_path)
        made.append(w)
        return w

    yield factory
    for w in made:
        w.stop_all()


@pytest.fixture
async def gateway(scaleout_env: dict[str, str]) -> AsyncIterator[TestClient[Any, Any]]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{k.removeprefix("OMNIRELAY_").lower(): v for k, v in scaleout_env.items()},
    )
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    async with TestClient(TestServer(create_app(settings, "gateway"))) as client:
        yield client


async def _post(client: TestClient[Any, Any], update: dict[str, Any]) -> None:
    resp = await client.post(
        "/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    )
    assert resp.status == 200


@pytest.mark.redis
@pytest.mark.postgres
async def test_worker_killed_while_sending_reply_sent_once_after_restart(
    gateway: TestClient[Any, Any],
    fake_telegram: FakeTelegram,
    workers: Callable[[], Workers],
) -> None:
    pool = workers()
    first = pool.start()
    chat = new_chat_id()
    fake_telegram.hold_next("sendMessage")  # the platform hangs: the worker is mid-send
    await _post(gateway, text_update(chat, "order A1001", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: fake_telegram.held["sendMessage"] == 1, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert fake_telegram.sent_messages(chat_id=chat) == []

    pool.start()  # a new worker process: its outbox sweeper finds the stored, unsent reply
    await fake_telegram.wait_for(
        lambda: len(fake_telegram.sent_messages(chat_id=chat)) >= 1, timeout=60
    )
    # one more message proves the new worker has caught up; then count
    await _post(gateway, text_update(chat, "thanks", update_id=new_update_id()))
    await fake_telegram.wait_for(
        lambda: len(fake_telegram.sent_messages(chat_id=chat)) >= 2, timeout=60
    )
    texts = [m["text"] for m in fake_telegram.sent_messages(chat_id=chat)]
    assert len(texts) == 2, pool.logs()
    assert "A1001" in texts[0] and "welcome" in texts[1].lower()


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    async with FakeRasa(mode="hang") as rasa:
        yield rasa


@pytest.mark.redis
@pytest.mark.postgres
async def test_worker_killed_before_replies_stored_message_redelivered_once(
    gateway: TestClient[Any, Any],
    fake_telegram: FakeTelegram,
    workers: Callable[[], Workers],
    scaleout_env: dict[str, str],
    fake_rasa: FakeRasa,
) -> None:
    """The worker dies while the NLU (a Rasa server here) has not answered: nothing was stored
    or acked, so the stream redelivers the message to the next worker's partition."""
    scaleout_env.update(
        OMNIRELAY_NLU_BACKEND="rasa",
        OMNIRELAY_RASA_URL=fake_rasa.url,
    )
    pool = workers()
    first = pool.start()
    chat = new_chat_id()
    await _post(gateway, text_update(chat, "hello", update_id=new_update_id()))
    await wait_until(lambda: len(fake_rasa.requests) == 1, timeout=60, what="the worker in the NLU")
    first.send_signal(signal.SIGKILL)
    first.wait()
    fake_rasa.mode = "ok"  # the NLU recovers; the first request stays hung with its dead caller

    pool.start()
    await fake_telegram.wait_for(
        lambda: len(fake_telegram.sent_messages(chat_id=chat)) >= 1, timeout=60
    )
    await _post(gateway, text_update(chat, "hi again", update_id=new_update_id()))
    await fake_telegram.wait_for(
        lambda: len(fake_telegram.sent_messages(chat_id=chat)) >= 2, timeout=60
    )
    texts = [m["text"] for m in fake_telegram.sent_messages(chat_id=chat)]
    assert len(texts) == 2, pool.logs()
    assert all(t.startswith("Hi") for t in texts), texts
    assert len(fake_rasa.requests) == 3  # hung, redelivered, second message


async def _processed(port: int, metric: str = "omnirelay_processed_total{") -> float:
    """A metric (summed over labels) read from a worker's /metrics; -1 when it is not up."""
    async with aiohttp.ClientSession() as http:
        try:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                text = await resp.text()
        except aiohttp.ClientError:
            return -1.0
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(metric)
    )


@pytest.mark.redis
@pytest.mark.postgres
async def test_two_worker_processes_share_the_stream_in_order(
    gateway: TestClient[Any, Any],
    fake_telegram: FakeTelegram,
    workers: Callable[[], Workers],
) -> None:
    pool = workers()
    pool.start()
    pool.start()
    # both workers hold partitions before the load, so both must take part
    for port in pool.ports:
        await wait_until(
            lambda p=port: _owns_partitions(p), timeout=60, what=f"worker :{port} owns partitions"
        )
    chats = [new_chat_id() for _ in range(40)]
    orders = ["A1001", "A1002", "A1003"]

    async def customer(chat: int) -> None:
        for number in orders:
            await _post(gateway, text_update(chat, f"order {number}", update_id=new_update_id()))

    await asyncio.gather(*(customer(c) for c in chats))
    total = len(chats) * len(orders)
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages()) >= total, timeout=90)
    assert len(fake_telegram.sent_messages()) == total, pool.logs()
    for chat in chats:
        texts = [m["text"] for m in fake_telegram.sent_messages(chat_id=chat)]
        assert [n for n in orders if any(n in t for t in texts)] == orders, texts
        assert all(n in t for n, t in zip(orders, texts, strict=True)), texts
    counts = [await _processed(port) for port in pool.ports]
    assert sum(counts) == total, counts
    assert all(c > 0 for c in counts), f"one worker did all the work: {counts}"


async def _owns_partitions(port: int) -> bool:
    return await _processed(port, "omnirelay_queue_partitions_owned ") > 0
