"""Graceful shutdown of real `omnirelay run | gateway | worker` processes (bots/shutdown.py).

SIGTERM: no new webhooks; the turns in flight finish (embedded: the whole in-process backlog)
or go back to the queue for another worker; unsent replies are sent or handed to a sweeper;
the process exits 0. A second SIGTERM exits at once, and nothing accepted is lost: a
restarted process answers what the first one left. Embedded (`run`, SQLite + memory) and
scale-out (`gateway` + `worker` processes, PostgreSQL + Redis).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots.demo import seed_demo
from bots.keys import DRAIN
from storage.db import Database
from tests.bots.conftest import TG_SECRET, Service, new_chat_id, new_update_id
from tests.bots.processes import Omnirelay, free_port, metric, post_telegram
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, text_update

ORDERS = ["A1001", "A1002", "A1003"]
IDLE_EXIT_BOUND = 8.0  # generous for a busy machine; the real figure is printed
ADMIN_TOKEN = "shutdown-test-admin-token-0123456789"
SCALEOUT = [pytest.mark.redis, pytest.mark.postgres]


class Stack:
    """The service as processes: `run` (embedded), or a `gateway` and `worker`s (scale-out).

    `worker()` starts what processes messages (the `run` process in embedded mode, which
    is also the webhook endpoint; restarting it reuses its port and database)."""

    def __init__(self, mode: str, env: dict[str, str], logdir: Path) -> None:
        self.mode = mode
        self.env = env
        self.logdir = logdir
        self.procs: list[Omnirelay] = []
        self.gateway: Omnirelay | None = None
        self.run_port = free_port()

    def _start(self, role: str, port: int, **env: str) -> Omnirelay:
        log = self.logdir / f"{role}{len(self.procs)}.log"
        proc = Omnirelay(role, {**self.env, **env}, log, port, "--port", str(port))
        self.procs.append(proc)
        return proc

    async def start(self, **env: str) -> Omnirelay:
        """Bring the stack up: the webhook endpoint and one message processor."""
        if self.mode == "scaleout":
            self.gateway = self._start("gateway", free_port())
            await self.gateway.ready()
        proc = self.worker(**env)
        await proc.ready()
        return proc

    def worker(self, **env: str) -> Omnirelay:
        if self.mode == "embedded":
            return self._start("run", self.run_port, **env)
        return self._start("worker", free_port(), **env)

    @property
    def webhook_url(self) -> str:
        if self.gateway is not None:
            return self.gateway.url
        return f"http://127.0.0.1:{self.run_port}"

    def logs(self) -> str:
        return "\n".join(f"--- {p.logfile.name}\n{p.log()}" for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:
            p.kill()


@pytest.fixture(
    params=["embedded", pytest.param("scaleout", marks=SCALEOUT)],
)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def stack(
    mode: str,
    request: pytest.FixtureRequest,
    nlu_model_path: Path,
    tmp_path: Path,
    fake_telegram: FakeTelegram,
) -> AsyncIterator[Stack]:
    env = {
        "OMNIRELAY_NLU_MODEL": str(nlu_model_path),
        "OMNIRELAY_NLU_REVIEW_LOG": str(tmp_path / "review.jsonl"),
        "OMNIRELAY_TELEGRAM_TOKEN": DEFAULT_TOKEN,
        "OMNIRELAY_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "OMNIRELAY_TELEGRAM_API_BASE": fake_telegram.base_url,
        "OMNIRELAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "OMNIRELAY_DEFAULT_LANGUAGE": "en",
        "OMNIRELAY_SEND_LEASE": "3",
        "OMNIRELAY_QUEUE_LEASE_MS": "2000",
        "OMNIRELAY_LOG_LEVEL": "INFO",
    }
    if mode == "embedded":
        path = tmp_path / "omnirelay.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        env["OMNIRELAY_DATABASE_URL"] = f"sqlite+aiosqlite:///{path}"
    else:
        env["OMNIRELAY_DATABASE_URL"] = request.getfixturevalue("pg_e2e_url")
        env["OMNIRELAY_REDIS_URL"] = request.getfixturevalue("redis_url")
        env["OMNIRELAY_REDIS_PREFIX"] = f"shut{uuid.uuid4().hex[:8]}"
    db = Database(env["OMNIRELAY_DATABASE_URL"])
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    made = Stack(mode, env, tmp_path)
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture
def _no_leftovers(stack: Stack) -> Iterator[None]:
    yield
    assert "Traceback" not in stack.logs(), stack.logs()


async def _exit_after(
    proc: Omnirelay,
    sig: signal.Signals,
    timeout: float = 60,  # noqa: ASYNC109 (the deadline of the wait)
) -> tuple[int, float]:
    sent = proc.signal(sig)
    code = await proc.exited(timeout)
    return code, time.monotonic() - sent


async def _customer(url: str, chat: int, texts: list[str]) -> list[int]:
    """One customer writing its messages one after another (each accepted before the next)."""
    return [
        await post_telegram(url, text_update(chat, t, update_id=new_update_id())) for t in texts
    ]


async def _refused(url: str) -> bool:
    """A webhook after the signal: the connection is refused, or (a race) answered 503."""
    try:
        status = await post_telegram(url, text_update(new_chat_id(), "hi", update_id=1))
    except aiohttp.ClientError:
        return True
    return status == 503


def _assert_answered_in_order(fake: FakeTelegram, chats: list[int], logs: str) -> None:
    for chat in chats:
        texts = [m["text"] for m in fake.sent_messages(chat_id=chat)]
        assert len(texts) == len(ORDERS), (chat, texts, logs)
        for number, text in zip(ORDERS, texts, strict=True):
            assert number in text, (chat, texts)


# ---- idle ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("_no_leftovers")
async def test_idle_process_exits_promptly_even_with_a_console_stream_open(
    stack: Stack, record_property: Any
) -> None:
    """An idle process exits at once on SIGTERM; an agent console's open event stream (SSE)
    used to hold it for aiohttp's whole shutdown timeout and as long again (21 s measured)."""
    proc = await stack.start()
    events = stack.webhook_url + "/api/events"
    async with aiohttp.ClientSession() as http:
        resp = await http.get(events, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert resp.status == 200
        await resp.content.readline()  # ": connected": the stream is open
        targets = [proc] if stack.gateway is None else [stack.gateway, proc]
        for target in targets:
            code, took = await _exit_after(target, signal.SIGTERM)
            record_property(f"{target.role}_exit_seconds", round(took, 3))
            print(f"{stack.mode} {target.role}: idle exit in {took:.2f} s")
            assert code == 0, target.log()
            assert took < IDLE_EXIT_BOUND, target.log()
        resp.release()
    if stack.gateway is None:  # `omnirelay run` said where a newcomer goes next
        assert f"open {stack.webhook_url}/console for agents" in proc.log()


# ---- turns in flight -------------------------------------------------------------------------


@pytest.mark.timeout(240)
@pytest.mark.parametrize("mode", ["embedded"])
@pytest.mark.usefixtures("_no_leftovers")
async def test_sigterm_with_turns_in_flight_embedded_answers_the_whole_backlog(
    stack: Stack, fake_telegram: FakeTelegram
) -> None:
    """Embedded mode has no other process: before exiting it answers everything it accepted,
    and refuses what comes after the signal (the platform sends it again later)."""
    proc = await stack.start(OMNIRELAY_SHUTDOWN_GRACE="90")
    held_chat = new_chat_id()
    release = fake_telegram.hold_next("sendMessage")  # a reply stuck at the platform
    assert await _customer(stack.webhook_url, held_chat, ORDERS[:1]) == [200]
    await fake_telegram.wait_for(lambda: fake_telegram.held["sendMessage"] == 1, timeout=60)
    chats = [new_chat_id() for _ in range(20)]
    statuses = await asyncio.gather(*(_customer(stack.webhook_url, c, ORDERS) for c in chats))
    assert all(s == [200] * len(ORDERS) for s in statuses)

    sent_before = len(fake_telegram.sent_messages())
    proc.signal(signal.SIGTERM)  # the backlog of 60 turns is queued or in flight
    await proc.logged("shutting down")
    assert await _refused(stack.webhook_url)
    release.set()  # the platform answers (500, then the retry goes through)
    assert await proc.exited(timeout=120) == 0, proc.log()
    print(f"embedded: {sent_before} of 61 replies sent at SIGTERM; the rest before the exit")

    _assert_answered_in_order(fake_telegram, chats, stack.logs())
    assert len(fake_telegram.sent_messages(chat_id=held_chat)) == 1
    assert len(fake_telegram.sent_messages()) == len(chats) * len(ORDERS) + 1


@pytest.mark.timeout(240)
@pytest.mark.parametrize("mode", [pytest.param("scaleout", marks=SCALEOUT)])
@pytest.mark.usefixtures("_no_leftovers")
async def test_sigterm_with_turns_in_flight_scaleout_hands_them_to_another_worker(
    stack: Stack, fake_telegram: FakeTelegram
) -> None:
    """A worker stopped mid-load finishes what it is running, puts the rest back, releases
    its partitions and hands its unsent replies to a sweeper: the next worker answers every
    message exactly once, in order."""
    grace = 3.0
    first = await stack.start(OMNIRELAY_SHUTDOWN_GRACE=str(grace))
    held_chat = new_chat_id()
    fake_telegram.hold_next("sendMessage")  # never released: the first worker cannot send it
    assert await _customer(stack.webhook_url, held_chat, ORDERS[:1]) == [200]
    await fake_telegram.wait_for(lambda: fake_telegram.held["sendMessage"] == 1, timeout=60)
    chats = [new_chat_id() for _ in range(40)]
    statuses = await asyncio.gather(*(_customer(stack.webhook_url, c, ORDERS) for c in chats))
    assert all(s == [200] * len(ORDERS) for s in statuses)

    processed = await metric(first.url, "omnirelay_processed_total")
    code, took = await _exit_after(first, signal.SIGTERM)
    second = stack.worker()
    print(f"worker with turns in flight: exit in {took:.2f} s (grace {grace} s)")
    assert code == 0, first.log()
    assert took < grace + IDLE_EXIT_BOUND, first.log()
    assert "unsent replies left for another process" in first.log()  # Outbox.drain

    total = len(chats) * len(ORDERS) + 1
    await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages()) >= total, timeout=120)
    await second.ready()
    _assert_answered_in_order(fake_telegram, chats, stack.logs())
    assert len(fake_telegram.sent_messages(chat_id=held_chat)) == 1
    assert len(fake_telegram.sent_messages()) == total, processed


# ---- a second signal -------------------------------------------------------------------------


@pytest.mark.timeout(240)
async def test_second_sigterm_exits_at_once_and_a_restart_answers_what_was_left(
    stack: Stack, fake_telegram: FakeTelegram, record_property: Any
) -> None:
    proc = await stack.start(OMNIRELAY_SHUTDOWN_GRACE="90")
    chat = new_chat_id()
    fake_telegram.hold_next("sendMessage")  # the reply is stored; its send hangs
    assert await _customer(stack.webhook_url, chat, ORDERS[:1]) == [200]
    await fake_telegram.wait_for(lambda: fake_telegram.held["sendMessage"] == 1, timeout=60)

    proc.signal(signal.SIGTERM)
    await proc.logged("shutting down")
    assert proc.proc.poll() is None  # waiting for the stuck send, up to the 90 s grace
    code, took = await _exit_after(proc, signal.SIGTERM, timeout=30)
    record_property("second_signal_exit_seconds", round(took, 3))
    print(f"{stack.mode}: second SIGTERM exit in {took:.2f} s")
    assert code == 128 + signal.SIGTERM, proc.log()
    assert took < 5.0, proc.log()
    assert fake_telegram.sent_messages(chat_id=chat) == []

    restarted = stack.worker()  # its sweeper finds the stored, unsent reply
    await restarted.ready()
    await fake_telegram.wait_for(
        lambda: len(fake_telegram.sent_messages(chat_id=chat)) >= 1, timeout=60
    )
    assert await _customer(stack.webhook_url, chat, ORDERS[1:2]) == [200]
    await fake_telegram.wait_for(
        lambda: len(fake_telegram.sent_messages(chat_id=chat)) >= 2, timeout=60
    )
    texts = [m["text"] for m in fake_telegram.sent_messages(chat_id=chat)]
    assert len(texts) == 2 and ORDERS[0] in texts[0] and ORDERS[1] in texts[1], stack.logs()


# ---- in process: the 503 while draining ------------------------------------------------------


async def test_a_webhook_reaching_a_draining_app_is_refused_with_retry_after(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    service.app[DRAIN].begin()
    resp = await service.telegram(text_update(new_chat_id(), "hello", update_id=new_update_id()))
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) > 0
    assert (await service.client.get("/healthz")).status == 200
    assert fake_telegram.sent_messages() == []
