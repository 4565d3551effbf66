"""Scale-out (PostgreSQL + Redis): two gateways in this test process and a worker in a real
`omnirelay worker` process. The visitor's message goes in at one gateway, its reply (sent by the
worker process) arrives on the event stream the visitor holds at the other, and a reconnect to
the first resumes after the last id the second showed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bots.config import Settings
from tests.webchat.conftest import ADMIN, KEY, Visitor, running, seeded, webchat_values

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "OMNIRELAY_DATABASE_URL": settings.database_url,
        "OMNIRELAY_REDIS_URL": settings.redis_url or "",
        "OMNIRELAY_REDIS_PREFIX": settings.redis_prefix,
        "OMNIRELAY_NLU_MODEL": str(settings.nlu_model),
        "OMNIRELAY_NLU_REVIEW_LOG": str(settings.nlu_review_log),
        "OMNIRELAY_DEFAULT_LANGUAGE": "en",
        "OMNIRELAY_WEBCHAT_PUBLIC_KEY": KEY,
        "OMNIRELAY_WEBCHAT_COOKIE_SECRET": "cookie-secret-for-tests",
        "OMNIRELAY_ADMIN_TOKEN": ADMIN,
        "OMNIRELAY_OUTBOUND_RATE_LIMITS": "false",
    }


@pytest.fixture
def worker_process(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[Callable[[Settings], None]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(settings: Settings) -> None:
        log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "worker", "--port", str(_free_port())],
            env=_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        procs.append(proc)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("mode", ["scaleout"], indirect=True)
async def test_a_reply_reaches_the_visitor_at_whichever_gateway_holds_the_stream(
    make_settings: Callable[..., Settings],
    worker_process: Callable[[Settings], None],
) -> None:
    settings = await seeded(make_settings(**webchat_values()))
    worker_process(settings)
    async with running(settings, "gateway") as one, running(settings, "gateway") as two:
        at_one = one.visitor()
        await at_one.start()
        at_two = Visitor(two.base)  # the same browser (cookies), behind a load balancer
        await at_two.http.close()
        at_two.http = at_one.http

        stream = await at_two.stream()
        await at_one.say("where is my order A1001")
        got = await stream.wait_for(lambda ev: any(e["kind"] == "message" for e in ev), 60)
        assert got[0]["data"]["text"] == "where is my order A1001"
        assert "A1001" in stream.texts()[0]
        last = got[-1]["id"]
        await stream.close()

        await at_two.say("where is my order A1003")  # nobody listens while it is answered
        resumed = await at_one.stream(last_event_id=last)
        again = await resumed.wait_for(lambda ev: any(e["kind"] == "message" for e in ev), 60)
        assert again[0]["data"]["text"] == "where is my order A1003"
        assert resumed.texts()  # the bot's answer (what it may say depends on verification)
        assert not {e["id"] for e in again} & {e["id"] for e in got}
        await resumed.close()
