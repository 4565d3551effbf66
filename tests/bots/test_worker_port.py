"""`omnirelay gateway` and `omnirelay worker` started from one environment on one host: the
worker serves /healthz, /readyz and /metrics on OMNIRELAY_WORKER_PORT, not on the gateway's
OMNIRELAY_PORT, so both come up (as the README's scale-out example starts them)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bots.config import Settings
from tests.bots.conftest import TG_SECRET, new_chat_id, new_update_id
from tests.bots.processes import Omnirelay, free_port, post_telegram
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, text_update


def test_the_worker_has_a_port_of_its_own_by_default() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.port, settings.worker_port) == (8080, 8081)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.timeout(240)
async def test_gateway_and_worker_from_one_environment_both_come_up(
    pg_e2e_url: str,
    redis_url: str,
    nlu_model_path: Path,
    tmp_path: Path,
    fake_telegram: FakeTelegram,
) -> None:
    gateway_port, worker_port = free_port(), free_port()
    env = {  # one environment for both, and no --port: each takes its own setting
        "OMNIRELAY_PORT": str(gateway_port),
        "OMNIRELAY_WORKER_PORT": str(worker_port),
        "OMNIRELAY_DATABASE_URL": pg_e2e_url,
        "OMNIRELAY_REDIS_URL": redis_url,
        "OMNIRELAY_REDIS_PREFIX": f"port{uuid.uuid4().hex[:8]}",
        "OMNIRELAY_NLU_MODEL": str(nlu_model_path),
        "OMNIRELAY_NLU_REVIEW_LOG": str(tmp_path / "review.jsonl"),
        "OMNIRELAY_TELEGRAM_TOKEN": DEFAULT_TOKEN,
        "OMNIRELAY_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "OMNIRELAY_TELEGRAM_API_BASE": fake_telegram.base_url,
        "OMNIRELAY_DEFAULT_LANGUAGE": "en",
    }
    gateway = Omnirelay("gateway", env, tmp_path / "gateway.log", gateway_port)
    worker = Omnirelay("worker", env, tmp_path / "worker.log", worker_port)
    try:
        await gateway.ready()
        await worker.ready()
        chat = new_chat_id()
        update = text_update(chat, "hello", update_id=new_update_id())
        assert await post_telegram(gateway.url, update) == 200
        await fake_telegram.wait_for(
            lambda: len(fake_telegram.sent_messages(chat_id=chat)) >= 1, timeout=60
        )
        assert fake_telegram.sent_messages(chat_id=chat)[0]["text"].startswith("Hi")
    finally:
        gateway.kill()
        worker.kill()


def test_a_port_in_use_is_one_clear_line_and_exit_code_2(
    _sqlite_template: Path, tmp_path: Path, nlu_model_path: Path
) -> None:
    """The commonest first-run problem (8080 taken) says what to change, without a traceback."""
    import os
    import shutil
    import socket
    import subprocess
    import sys

    db = tmp_path / "o.db"
    shutil.copyfile(_sqlite_template, db)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "OMNIRELAY_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "OMNIRELAY_NLU_MODEL": str(nlu_model_path),
            "OMNIRELAY_SIMULATOR": "false",
        }
        done = subprocess.run(
            [sys.executable, "-m", "bots.cli", "run", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"cannot listen on 127.0.0.1:{port}" in output and "OMNIRELAY_PORT" in output
    assert "Traceback" not in output
