"""While Redis (or the database) is unreachable, a webhook answers 503 with Retry-After and
one log line, so the platform retries later; never a 500 with a traceback."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy.exc
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bots.gateway.http import error_middleware
from storage.errors import BackendUnavailable
from tests.channels._app import gateway, gateway_settings, signed
from tests.fakes import viber as vb
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own, without persistence, that the test may stop."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(directory)]
        self._process = subprocess.Popen(["redis-server", *args], stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


async def _redis_answers(url: str) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        return bool(await client.ping())
    except OSError:
        return False
    except aioredis.RedisError:
        return False
    finally:
        await client.aclose()


def _bodies() -> dict[str, bytes]:
    update = {
        "update_id": 777,
        "message": {
            "message_id": 1,
            "date": 1732280000,
            "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": False, "first_name": "Olena"},
            "text": "hello",
        },
    }
    return {
        "telegram": orjson.dumps(update),
        "viber": vb.sign_callback("x", vb.text_message("hello")).body,
        "rest": orjson.dumps({"sender": "c1", "text": "hello"}),
    }


async def test_webhooks_answer_503_with_retry_after_while_redis_is_down(
    private_redis: PrivateRedis,
    _sqlite_template: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await wait_until(lambda: _redis_answers(private_redis.url), timeout=20, what="redis up")
    async with FakeTelegram() as fake:
        settings = gateway_settings(
            _sqlite_template, tmp_path, fake.base_url, redis_url=private_redis.url
        )
        async with gateway(settings) as client:
            private_redis.stop()
            for channel, body in _bodies().items():
                caplog.clear()
                path, headers = signed(channel, body)
                response = await client.post(path, data=body, headers=headers)
                assert response.status == 503, (channel, await response.text())
                assert int(response.headers["Retry-After"]) > 0
                assert "error" in await response.json()
                # (the background subscribers of other parts log their own reconnects)
                lines = [r for r in caplog.records if r.name.startswith("bots.")]
                assert len(lines) == 1, [r.getMessage() for r in lines]
                assert lines[0].levelno == logging.WARNING and "storage unavailable" in lines[0].msg
                assert all(r.exc_info is None for r in caplog.records)


@pytest.mark.parametrize(
    "error",
    [
        BackendUnavailable("Redis publish failed"),
        ConnectionRefusedError(111, "Connect call failed"),
        sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed")),
    ],
    ids=["backend-unavailable", "connection-refused", "database-operational-error"],
)
async def test_unreachable_storage_from_any_handler_is_503(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise error

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/webhooks/x", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/webhooks/x", data=b"{}")
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is None


async def test_a_client_that_left_a_stream_is_not_an_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A browser closing an event stream (the chat widget's, the console's) makes the next
    write fail with ConnectionResetError, an OSError like a database's: not "storage
    unavailable" (trial T21), and no traceback."""
    left, wrote = asyncio.Event(), asyncio.Event()
    failures: list[BaseException] = []

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: hello\n\n")
        await left.wait()
        try:
            await wait_until(lambda: request.transport is None or request.transport.is_closing())
            await response.write(b"data: the agent's reply\n\n")
        except BaseException as e:
            failures.append(e)
            raise
        finally:
            wrote.set()
        return response

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/events", stream)
    caplog.set_level(logging.DEBUG, logger="bots.gateway.http")
    async with TestServer(app) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert b"data: hello" in await reader.readuntil(b"data: hello")
        writer.close()
        await writer.wait_closed()
        left.set()
        await asyncio.wait_for(wrote.wait(), timeout=30)
    assert failures and isinstance(failures[0], ConnectionResetError)
    lines = [r for r in caplog.records if r.name == "bots.gateway.http"]
    assert [r.levelno for r in lines] == [logging.DEBUG], [r.getMessage() for r in lines]
    assert "the client left" in lines[0].getMessage() and lines[0].exc_info is None
