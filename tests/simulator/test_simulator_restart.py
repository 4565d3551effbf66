"""A restart of `make run` keeps the simulator's tabs (trial 3, T8): the sandbox's record of
replies is kept beside the SQLite database, a reloaded page gets the earlier replies again,
and a page left open gets the new ones (its `after` stays meaningful). Without a database file
(PostgreSQL) numbering restarts above the old numbers: an open page still gets new replies."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from bots.local_files import beside_database
from bots.sandbox.log import SandboxLog
from storage.db import Database
from tests.simulator.conftest import Simulator

PERSON = "restart-1"


@asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[Simulator]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", settings.port))
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        async with aiohttp.ClientSession() as http:
            yield Simulator(f"http://127.0.0.1:{settings.port}", settings, runner.app, http)
    finally:
        await runner.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_a_restart_keeps_the_tabs_replies(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(simulator=True, host="127.0.0.1", port=_free_port())
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    kept = beside_database(settings.database_url, ".simulator.jsonl")
    async with _serving(settings) as first:
        await first.send("telegram", PERSON, text="hello")
        before = await first.replies("telegram", PERSON, 1)
    last = max(r["seq"] for r in before)
    if kept is not None:
        assert kept.exists()
    async with _serving(settings) as second:
        if kept is not None:  # a reloaded page (after=0) draws the conversation so far
            again = await second.replies("telegram", PERSON, len(before))
            assert [r["text"] for r in again] == [r["text"] for r in before]
            assert [r["seq"] for r in again] == [r["seq"] for r in before]
        # a page left open asks for what came after its last reply: only the new ones
        await second.send("telegram", PERSON, text="where is my order A1003")
        new = await second.replies("telegram", PERSON, 1, after=last)
        assert new and all(r["seq"] > last for r in new)
        assert not {r["text"] for r in new} & {r["text"] for r in before}


def test_a_damaged_line_is_skipped_and_numbering_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "omnirelay.db.simulator.jsonl"
    log = SandboxLog(path=path)
    first = log.record("telegram", "7", "one")
    log.record("viber", "8", "two")
    with path.open("a", encoding="utf-8") as f:
        f.write('{"seq": 9, "chan')  # a write cut short by a crash
    reopened = SandboxLog(path=path)
    assert [d.text for d in reopened.after(0, "telegram", "7")] == ["one"]
    assert [d.text for d in reopened.after(0, "viber", "8")] == ["two"]
    third = reopened.record("telegram", "7", "three")
    assert third.seq == first.seq + 2


def test_the_file_is_cut_to_what_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = SandboxLog(keep=3, path=path)
    for i in range(10):
        log.record("instagram", "1", f"m{i}")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert 3 <= len(lines) <= 6  # rewritten to the last `keep` whenever it reaches twice that
    reopened = SandboxLog(keep=3, path=path)
    assert [d.text for d in reopened.after(0, "instagram", "1")] == ["m7", "m8", "m9"]


def test_without_a_file_numbers_start_above_an_earlier_process(tmp_path: Path) -> None:
    earlier = SandboxLog()
    seq = earlier.record("telegram", "1", "old").seq
    while time.time_ns() // 1000 <= seq:  # a restart takes longer than a microsecond
        pass
    later = SandboxLog()
    assert later.record("telegram", "1", "new").seq > seq
