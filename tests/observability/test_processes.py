"""`omnirelay gateway` and `omnirelay worker` as real processes (PostgreSQL + Redis, JSON logs):
each one's `/metrics` counts its half of a message, the reply's latency spans both, and one
correlation id ties the gateway's log line to the worker's turn and send."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.bots.conftest import TG_SECRET, new_chat_id, new_update_id
from tests.bots.processes import Omnirelay, free_port, post_telegram
from tests.fakes import wait_until
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, text_update
from tests.observability.scrape import Samples, scrape

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.timeout(240)]


def json_lines(process: Omnirelay) -> list[dict[str, Any]]:
    lines = []
    for line in process.log().splitlines():
        if line.startswith("{"):
            lines.append(orjson.loads(line))
    return lines


async def scrape_url(url: str) -> Samples:
    async with aiohttp.ClientSession() as http:
        return await scrape(http, f"{url}/metrics")


async def test_both_ports_and_one_id_across_the_processes(
    pg_e2e_url: str,
    redis_url: str,
    nlu_model_path: Path,
    tmp_path: Path,
    fake_telegram: FakeTelegram,
) -> None:
    gateway_port, worker_port = free_port(), free_port()
    env = {
        "OMNIRELAY_PORT": str(gateway_port),
        "OMNIRELAY_WORKER_PORT": str(worker_port),
        "OMNIRELAY_DATABASE_URL": pg_e2e_url,
        "OMNIRELAY_REDIS_URL": redis_url,
        "OMNIRELAY_REDIS_PREFIX": f"obs{uuid.uuid4().hex[:8]}",
        "OMNIRELAY_NLU_MODEL": str(nlu_model_path),
        "OMNIRELAY_NLU_REVIEW_LOG": str(tmp_path / "review.jsonl"),
        "OMNIRELAY_TELEGRAM_TOKEN": DEFAULT_TOKEN,
        "OMNIRELAY_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "OMNIRELAY_TELEGRAM_API_BASE": fake_telegram.base_url,
        "OMNIRELAY_DEFAULT_LANGUAGE": "en",
        "OMNIRELAY_LOG_FORMAT": "json",
        "OMNIRELAY_LOG_LEVEL": "DEBUG",
    }
    gateway = Omnirelay("gateway", env, tmp_path / "gateway.log", gateway_port)
    worker = Omnirelay("worker", env, tmp_path / "worker.log", worker_port)
    try:
        await gateway.ready()
        await worker.ready()
        chat = new_chat_id()
        assert (
            await post_telegram(gateway.url, text_update(chat, "hello", update_id=new_update_id()))
            == 200
        )

        async def sent() -> Samples | None:
            samples = await scrape_url(worker.url)
            return samples if samples.value("omnirelay_replies_sent_total") >= 1 else None

        at_worker: Samples = await wait_until(sent, timeout=60, what="the worker's reply counted")
        assert fake_telegram.sent_messages(chat_id=chat)
        assert at_worker.value("omnirelay_processed_total", channel="telegram") == 1
        assert at_worker.value("omnirelay_reply_latency_seconds_count", channel="telegram") == 1
        assert at_worker.value("omnirelay_inbound_total") == 0  # the gateway's half
        at_gateway = await scrape_url(gateway.url)
        assert at_gateway.value("omnirelay_inbound_total", channel="telegram") == 1
        assert at_gateway.value("omnirelay_replies_sent_total") == 0
        assert "omnirelay_queue_oldest_age_seconds" in at_gateway.text

        queued = [
            doc["correlation_id"]
            for doc in json_lines(gateway)
            if doc["logger"] == "bots.gateway.ingress" and "correlation_id" in doc
        ]
        assert len(queued) == 1, "one message, one id"

        def followed() -> set[str] | None:
            loggers = {
                doc["logger"]
                for doc in json_lines(worker)
                if doc.get("correlation_id") == queued[0]
            }
            return loggers if {"bots.worker.steps", "bots.worker.reply_sender"} <= loggers else None

        loggers = await wait_until(
            followed, timeout=30, what="the worker's turn and send logged with the gateway's id"
        )
        assert "bots.gateway.ingress" not in loggers
    finally:
        gateway.kill()
        worker.kill()
