"""Logging set-up: plain text for development, one JSON object a line in production.

Phone numbers and e-mail addresses are masked in every log line, whatever logged them; tokens,
secrets and the texts people write are masked at INFO and above (`MaskingFilter`, patterns in
`bots.log_masking`): a text is logged at DEBUG, or marked with `bots.log_masking.said`.

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

from bots.log_masking import SaidText, mask_secrets

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


class MaskingFilter(logging.Filter):
    """Puts the masked message and traceback on the record (``masked_message``, ``masked_exc``)
    for the formatters below, leaving ``msg`` and ``args`` as logged (other handlers, such as
    pytest's capture, see the record unchanged). Phones and e-mails are masked on every line;
    from ``level`` up (INFO) also tokens, ``secrets`` and texts marked with `said`."""

    def __init__(self, secrets: Sequence[str] = (), level: int = logging.INFO) -> None:
        super().__init__()
        self.secrets = tuple(secrets)
        self.level = level

    def mask(self, text: str, levelno: int) -> str:
        if levelno >= self.level:
            text = mask_secrets(text, self.secrets)
        return mask_personal_data(text)

    def filter(self, record: logging.LogRecord) -> bool:
        above = record.levelno >= self.level
        args = record.args
        if above and isinstance(args, tuple) and any(isinstance(a, SaidText) for a in args):
            args = tuple(a.masked() if isinstance(a, SaidText) else a for a in args)
        try:
            message = str(record.msg) % args if args else str(record.msg)
        except (TypeError, ValueError):
            message = record.getMessage()  # raises as logging itself would report it
        record.masked_message = self.mask(message, record.levelno)
        if record.exc_info:
            exc = logging.Formatter().formatException(record.exc_info)
            record.masked_exc = self.mask(exc, record.levelno)
        return True


def _masked(record: logging.LogRecord, formatter: logging.Formatter) -> tuple[str, str | None]:
    """The record's masked message and traceback (`MaskingFilter`'s, else phones and e-mails
    masked here)."""
    message = getattr(record, "masked_message", None)
    if message is None:
        message = mask_personal_data(record.getMessage())
    exc = getattr(record, "masked_exc", None)
    if exc is None and record.exc_info:
        exc = mask_personal_data(formatter.formatException(record.exc_info))
    return message, exc


class MaskingFormatter(logging.Formatter):
    """Formats a copy of the record with its masked message and traceback (never its time or
    logger name), so other handlers (pytest's capture, a library's own) still see it as logged."""

    def format(self, record: logging.LogRecord) -> str:
        masked = copy.copy(record)
        masked.msg, exc = _masked(record, self)
        masked.args = None
        cid = correlation_of(record)
        masked.correlation = f" [{cid}]" if cid else ""
        if exc is not None:
            masked.exc_text, masked.exc_info = exc, None
        return super().format(masked)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message, exc = _masked(record, self)
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        cid = correlation_of(record)
        if cid:
            doc["correlation_id"] = cid
        if exc is not None:
            doc["exc"] = exc
        return orjson.dumps(doc).decode()


#: ``%(correlation)s`` is `MaskingFormatter`'s: " [id]" while a message is handled, else empty
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(correlation)s: %(message)s"


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: Sequence[str] = ()) -> None:
    """One handler on stderr for every logger; ``secrets`` (the settings' tokens, see
    `bots.log_masking.secrets_of`) never appear at INFO and above."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(MaskingFormatter(TEXT_FORMAT))
    handler.addFilter(CorrelationFilter())
    handler.addFilter(MaskingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
