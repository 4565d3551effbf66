"""Logging set-up: plain text for development, one JSON object a line in production.

Phone numbers and e-mail addresses are masked in every log line, whatever logged them.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
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
        if record.exc_info:
            doc["exc"] = mask_personal_data(self.formatException(record.exc_info))
        return orjson.dumps(doc).decode()


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
