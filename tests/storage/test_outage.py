"""`storage.queue.is_outage`: what counts as storage being away (retry the turn later) and what
counts as a bad message (dead-letter it)."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text

from storage.db import Database
from storage.queue import is_outage


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_database_that_refuses_connections_is_an_outage() -> None:
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/test")
    try:
        with pytest.raises(Exception) as caught:
            async with db.transaction() as s:
                await s.execute(text("SELECT 1"))
    finally:
        await db.dispose()
    assert is_outage(caught.value), repr(caught.value)


@pytest.mark.parametrize(
    "error", [ConnectionRefusedError(111, "refused"), ConnectionResetError(104, "reset")]
)
def test_raw_socket_errors_of_a_restart_are_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize("error", [ValueError("bad"), KeyError("x"), FileNotFoundError("f")])
def test_errors_of_a_bad_message_are_not(error: Exception) -> None:
    assert not is_outage(error)
