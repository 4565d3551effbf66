"""A worker that is slow, not dead, cannot double, drop or reorder a reply (issue 12).

Each test stops a real worker process with SIGSTOP at a known point of a turn, for longer than
its leases, lets another process take its work over, then wakes it with SIGCONT. The stall
points are set by the fakes (a held NLU request, a 429 from the platform), never by timing, and
every wait is for a condition: the tests hold on a loaded machine. The length of a stall is the
fault itself, so it is a fixed duration, chosen well past the leases.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bots.demo import seed_demo
from storage.db import Database
from storage.models import Message
from tests.bots.conftest import TG_SECRET, new_chat_id, new_update_id
from tests.bots.test_scaleout_processes import (  # noqa: F401 (fixtures used by name)
    Workers,
    _free_port,
    _post,
    gateway,
    scaleout_env,
    workers,
)
from tests.fakes import wait_until
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, text_update

LOCK_LEASE_MS = 3000  # a stalled worker's customer lock expires after this


@pytest.fixture
async def held_rasa() -> AsyncIterator[FakeRasa]:
    """An NLU server that holds the first request until `release()`: the stall point."""
    async with FakeRasa(mode="hang") as rasa:
        yield rasa


async def _transcript_counts(db_url: str, chat: int) -> tuple[int, int]:
    """(inbound, outbound) transcript rows of one Telegram chat."""
    db = Database(db_url)
    try:
        async with db.session() as s:
            rows = await s.execute(
                select(Message.direction, func.count())
                .where(Message.channel == "telegram", Message.external_user_id == str(chat))
                .group_by(Message.direction)
            )
            counts = {direction: n for direction, n in rows.all()}
    finally:
        await db.dispose()
    return counts.get("in", 0), counts.get("out", 0)


def _texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [m["text"] for m in fake.sent_messages(chat_id=chat)]


@pytest.mark.redis
@pytest.mark.postgres
async def test_worker_stalled_mid_turn_is_fenced_out(
    gateway: TestClient[Any, Any],  # noqa: F811
    fake_telegram: FakeTelegram,
    workers: Callable[[], Workers],  # noqa: F811
    scaleout_env: dict[str, str],  # noqa: F811
    held_rasa: FakeRasa,
) -> None:
    """Worker A stops inside a turn (its NLU call held). Worker B takes the partition over
    and answers; A wakes, finishes the turn's work and finds its fence stale at the write: it
    writes and sends nothing. The customer sees each answer once, in order."""
    scaleout_env.update(
        OMNIRELAY_NLU_BACKEND="rasa",
        OMNIRELAY_RASA_URL=held_rasa.url,
        OMNIRELAY_RASA_TIMEOUT="600",  # A's held call must outlive the stall, not time out
        OMNIRELAY_LOCK_LEASE_MS=str(LOCK_LEASE_MS),
    )
    pool = workers()
    a = pool.start()
    chat = new_chat_id()
    await _post(gateway, text_update(chat, "hello", update_id=new_update_id()))
    await wait_until(lambda: len(held_rasa.requests) == 1, timeout=60, what="A inside the NLU")
    a.send_signal(signal.SIGSTOP)
    try:
        held_rasa.mode = "ok"  # new requests are answered; A's stays held until release()
        pool.start()  # B: takes the partitions once A's leases expire, then redoes the turn
        await fake_telegram.wait_for(lambda: len(_texts(fake_telegram, chat)) >= 1, timeout=90)
        await _post(gateway, text_update(chat, "order A1001", update_id=new_update_id()))
        await fake_telegram.wait_for(lambda: len(_texts(fake_telegram, chat)) >= 2, timeout=90)
        held_rasa.release()  # A's answer waits in its socket while it is stopped
    finally:
        a.send_signal(signal.SIGCONT)
    await wait_until(
        lambda: "abandoned" in pool.logs(), timeout=90, what="A abandoning its stale turn"
    )
    await _post(gateway, text_update(chat, "bye", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(_texts(fake_telegram, chat)) >= 3, timeout=90)
    texts = _texts(fake_telegram, chat)
    assert len(texts) == 3, (texts, pool.logs())
    assert texts[0].startswith("Hi") and "A1001" in texts[1], texts
    assert await _transcript_counts(scaleout_env["OMNIRELAY_DATABASE_URL"], chat) == (3, 3)
    assert "lost the lease of partition" in pool.logs()


@pytest.mark.redis
@pytest.mark.postgres
async def test_worker_stalled_with_a_reply_in_hand_does_not_send_it_again(
    gateway: TestClient[Any, Any],  # noqa: F811
    fake_telegram: FakeTelegram,
    workers: Callable[[], Workers],  # noqa: F811
) -> None:
    """Worker A holds a stored reply, waiting out the platform's retry_after, and stops.
    Its send lease runs out, B's sweeper claims the reply and sends it; A wakes and finds the
    reply is no longer its own to send."""
    pool = workers()
    a = pool.start()
    chat = new_chat_id()
    fake_telegram.fail_next("sendMessage", status=429, retry_after=8)
    await _post(gateway, text_update(chat, "order A1002", update_id=new_update_id()))
    await fake_telegram.wait_for(
        lambda: any(c.status == 429 for c in fake_telegram.calls_to("sendMessage")), timeout=60
    )
    a.send_signal(signal.SIGSTOP)
    try:
        pool.start()  # B's sweeper finds the reply once A's send lease (3 s) has run out
        await fake_telegram.wait_for(lambda: len(_texts(fake_telegram, chat)) >= 1, timeout=90)
    finally:
        a.send_signal(signal.SIGCONT)
    await wait_until(
        lambda: "by another process" in pool.logs(), timeout=90, what="A standing down"
    )
    texts = _texts(fake_telegram, chat)
    assert len(texts) == 1 and "A1002" in texts[0], (texts, pool.logs())


# ---- embedded: one process, SQLite and in-process memory ------------------------------------


@pytest.fixture
async def embedded(
    tmp_path: Path, nlu_model_path: Path, fake_telegram: FakeTelegram, held_rasa: FakeRasa
) -> AsyncIterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """`omnirelay run` as a real process on a SQLite file, its NLU a held Rasa server."""
    db_file = tmp_path / "omnirelay.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    from storage.db import upgrade

    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "OMNIRELAY_DATABASE_URL": url,
        "OMNIRELAY_TELEGRAM_API_BASE": fake_telegram.base_url,
        "OMNIRELAY_TELEGRAM_TOKEN": DEFAULT_TOKEN,
        "OMNIRELAY_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "OMNIRELAY_NLU_BACKEND": "rasa",
        "OMNIRELAY_RASA_URL": held_rasa.url,
        "OMNIRELAY_RASA_TIMEOUT": "600",
        "OMNIRELAY_NLU_MODEL": str(nlu_model_path),
        "OMNIRELAY_SEND_LEASE": "2",
        "OMNIRELAY_SIMULATOR": "false",
        "OMNIRELAY_DEFAULT_LANGUAGE": "en",
    }
    log = tmp_path / "run.log"
    proc = _start_run(env, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until(lambda: _up(base), timeout=120, interval=0.2, what="omnirelay run")
        yield proc, base, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _start_run(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "run", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _up(base: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def _post_to(base: str, update: dict[str, Any]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base}/webhooks/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET},
        ) as resp,
    ):
        return resp.status


async def test_embedded_process_stalled_mid_turn_answers_each_message_once(
    embedded: tuple[subprocess.Popen[bytes], str, Path],
    fake_telegram: FakeTelegram,
    held_rasa: FakeRasa,
) -> None:
    """The one process stops mid-turn and mid-send for longer than its send lease; a message
    that arrives meanwhile waits. Woken, it answers each message once, in order: its own
    sweeper does not take the reply that its lane still holds."""
    proc, base, log = embedded
    chat = new_chat_id()
    assert await _post_to(base, text_update(chat, "hello", update_id=new_update_id())) == 200
    await wait_until(lambda: len(held_rasa.requests) == 1, timeout=60, what="the turn in NLU")
    proc.send_signal(signal.SIGSTOP)
    try:
        # accepted by the kernel, answered once the process runs again
        late = asyncio.create_task(
            _post_to(base, text_update(chat, "order A1003", update_id=new_update_id()))
        )
        held_rasa.mode = "ok"
        held_rasa.release()
        await asyncio.sleep(5)  # the stall: well past the 2 s send lease
    finally:
        proc.send_signal(signal.SIGCONT)
    assert await late == 200
    await fake_telegram.wait_for(lambda: len(_texts(fake_telegram, chat)) >= 2, timeout=90)
    release = fake_telegram.hold_next("sendMessage")  # the next reply: in flight at the stop
    assert await _post_to(base, text_update(chat, "bye", update_id=new_update_id())) == 200
    await wait_until(lambda: fake_telegram.held["sendMessage"] == 1, timeout=60, what="mid-send")
    proc.send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(5)
    finally:
        proc.send_signal(signal.SIGCONT)
    release.set()  # the platform answers 500 to the held call: the reply is retried
    await fake_telegram.wait_for(lambda: len(_texts(fake_telegram, chat)) >= 3, timeout=90)
    await _post_to(base, text_update(chat, "hello", update_id=new_update_id()))
    await fake_telegram.wait_for(lambda: len(_texts(fake_telegram, chat)) >= 4, timeout=90)
    texts = _texts(fake_telegram, chat)
    assert len(texts) == 4, (texts, log.read_text(errors="replace"))
    assert texts[0].startswith("Hi") and "A1003" in texts[1], texts
