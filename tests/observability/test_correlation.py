"""One correlation id per customer message, from the webhook through the worker's turn to the
reply's send, on the log lines of each, in text and in JSON; another message has its own."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import pytest

from bots.logs import (
    TEXT_FORMAT,
    CorrelationFilter,
    JsonFormatter,
    MaskingFormatter,
    correlated,
    correlation_of,
)
from tests.bots.conftest import Service, new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram, text_update

GATEWAY, WORKER, SENDER = "bots.gateway.ingress", "bots.worker.steps", "bots.worker.reply_sender"


@contextmanager
def stamped(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The records of bots/ at DEBUG, stamped as the service's own handler stamps them (the
    capture's handler is the call phase's own: this runs inside the test)."""
    caplog.set_level(logging.DEBUG, logger="bots")
    stamp = CorrelationFilter()
    caplog.handler.addFilter(stamp)
    try:
        yield
    finally:
        caplog.handler.removeFilter(stamp)


def correlation_ids(records: list[logging.LogRecord], logger: str) -> list[str]:
    return [cid for r in records if r.name == logger and (cid := correlation_of(r))]


@pytest.mark.parametrize("mode", ["embedded"])
@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_one_id_follows_a_message_from_webhook_to_send(
    service: Service,
    fake_telegram: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
    fmt: str,
) -> None:
    ids = []
    records = caplog.records
    with stamped(caplog):
        for text in ("hello", "what are your opening hours?"):
            before = len(records)
            await service.telegram(text_update(new_chat_id(), text, update_id=new_update_id()))
            queued = correlation_ids(records[before:], GATEWAY)
            assert len(queued) == 1, "the gateway gives each message one id"
            ids.append(queued[0])
            await wait_until(
                lambda cid=queued[0]: cid in correlation_ids(records, SENDER),
                timeout=30,
                what="the reply's send logged with the message's id",
            )
            assert queued[0] in correlation_ids(records, WORKER)
    first, second = ids
    assert first != second

    formatter = JsonFormatter() if fmt == "json" else MaskingFormatter(TEXT_FORMAT)
    mine = [r for r in records if correlation_of(r) == first]
    lines = [formatter.format(r) for r in mine]
    assert {GATEWAY, WORKER, SENDER} <= {r.name for r in mine}
    for line in lines:
        if fmt == "json":
            assert orjson.loads(line)["correlation_id"] == first
        else:
            assert f" [{first}]: " in line
    assert not any(second in line for line in lines)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_line_outside_any_message_has_no_id(fmt: str) -> None:
    formatter = JsonFormatter() if fmt == "json" else MaskingFormatter(TEXT_FORMAT)
    stamp = CorrelationFilter()

    def line(message: str) -> str:
        record = logging.LogRecord("omnirelay.test", logging.INFO, __file__, 1, message, (), None)
        stamp.filter(record)
        return formatter.format(record)

    with correlated("abc123"):
        inside = line("inside")
        with correlated(None):  # an agent's reply sent from a lane a message's turn started
            nested = line("nested")
    outside = line("outside")
    if fmt == "json":
        assert orjson.loads(inside)["correlation_id"] == "abc123"
        assert "correlation_id" not in orjson.loads(nested)
        assert "correlation_id" not in orjson.loads(outside)
    else:
        assert "omnirelay.test [abc123]: inside" in inside
        assert "omnirelay.test: nested" in nested
        assert "omnirelay.test: outside" in outside
