"""Logging set-up: plain text for development, one JSON object a line in production.

Phone numbers and e-mail addresses are masked in every log line, whatever logged them.

Every line written while one customer message is handled carries that message's correlation
id: the gateway's ingress gives it (`new_correlation_id`, kept on the `InboundMessage` through
the queue), the worker's turn and the outbox's send set it (`correlated`) from the message and
from the reply (`PendingSend.correlation_id`), and `CorrelationFilter` stamps it on each record:
``... INFO bots.worker.steps [3f9c0a1b2d4e5f60]: ...`` in text, ``"correlation_id"`` in JSON.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

# Both patterns run on untrusted text (any logged field), so each must be linear in its length:
# a match may only start where the previous character cannot belong to it (the lookbehinds), so
# a long run of letters or digits is scanned once, not once per position (the old e-mail pattern
# took ~230 s on 300,000 letters); the local part is possessive, the other runs bounded.
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s()-]{7,24}\d(?!\w)")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*+"
    r"@([A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63})"
)
MAX_LOGGED_CHARS = 64 * 1024  # a longer message keeps its head and tail

#: the correlation id of the message being handled in this task (None: none)
CORRELATION_ID: ContextVar[str | None] = ContextVar("omnirelay_correlation_id", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[None]:
    """Log lines written inside carry ``correlation_id`` (None: none, whatever was outside)."""
    token = CORRELATION_ID.set(correlation_id)
    try:
        yield
    finally:
        CORRELATION_ID.reset(token)


class CorrelationFilter(logging.Filter):
    """Stamps the current correlation id on a record as ``record.correlation_id``, so a handler
    that formats it later (or elsewhere) still has it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = CORRELATION_ID.get()
        return True


def correlation_of(record: logging.LogRecord) -> str | None:
    stamped: str | None = getattr(record, "correlation_id", None)
    return stamped if stamped is not None else CORRELATION_ID.get()


def mask_personal_data(text: str) -> str:
    """`text` with phone numbers and e-mail addresses masked, in time linear in its length;
    a text longer than `MAX_LOGGED_CHARS` loses its middle first."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-2:], text)
    if len(text) > MAX_LOGGED_CHARS:  # cut after masking, so no half address escapes it
        half = MAX_LOGGED_CHARS // 2
        text = f"{text[:half]} …[{len(text) - 2 * half} characters left out]… {text[-half:]}"
    return text


class MaskingFormatter(logging.Formatter):
    """Masks the message and traceback of a copy of the record (never its time or logger
    name), so other handlers (pytest's capture, a library's own) still see it as logged."""

    def format(self, record: logging.LogRecord) -> str:
        masked = copy.copy(record)
        masked.msg, masked.args = mask_personal_data(record.getMessage()), None
        cid = correlation_of(record)
        masked.correlation = f" [{cid}]" if cid else ""
        if record.exc_info:
            masked.exc_text = mask_personal_data(self.formatException(record.exc_info))
            masked.exc_info = None
        return super().format(masked)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_personal_data(record.getMessage()),
        }
        cid = correlation_of(record)
        if cid:
            doc["correlation_id"] = cid
        if record.exc_info:
            doc["exc"] = mask_personal_data(self.formatException(record.exc_info))
        return orjson.dumps(doc).decode()


#: ``%(correlation)s`` is `MaskingFormatter`'s: " [id]" while a message is handled, else empty
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(correlation)s: %(message)s"


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(MaskingFormatter(TEXT_FORMAT))
    handler.addFilter(CorrelationFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
