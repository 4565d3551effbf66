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

_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s()-]{7,}\d(?!\w)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_personal_data(text: str) -> str:
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-2:], text)


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
