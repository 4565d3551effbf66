"""What every webhook body must satisfy before a channel reads it, and what every event must
satisfy before it is handed to the ingress.

`decode_json` parses a (signature-checked) body with bounded nesting, size and number ranges,
so no body can raise RecursionError or OverflowError later, or fail to serialise for the queue.
`check_event` is the last gate of a webhook: the channel-neutral event fits the columns and
limits of the core (ids, names, language codes, phone numbers, text) and serialises, so nothing
invalid reaches the queue, the worker, the transcript or an agent.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

import orjson

from bots.channels.errors import MalformedPayload
from bots.messages import ChannelEvent, InboundEvent, InboundMessage, encode_event

MAX_DEPTH = 32  # the deepest platform schema (Telegram's keyboards in a reply) needs ~10
MAX_NODES = 100_000  # values in one body: Meta batches up to 1,000 events of ~20 values
MAX_STRING = 65_536  # characters in any one string of a body
UINT64_MAX = 2**64 - 1
INT64_MIN = -(2**63)

# Limits of the channel-neutral event: the columns it lands in (storage/models.py) and the
# largest text any platform sends (Viber, 7,000 characters).
MAX_USER_ID = 128
MAX_MESSAGE_ID = 128
MAX_EVENT_ID = 512
MAX_NAME = 200
MAX_LANGUAGE = 16
MAX_PHONE = 32
MAX_TEXT = 8_192
MAX_PAYLOAD = 4_096
MAX_DETAIL = 1_024
MAX_ATTACHMENTS = 20
MAX_URL = 4_096

_SURROGATE = re.compile("[\ud800-\udfff]")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,2}")


def decode_json(body: bytes) -> Any:
    """The decoded body, or `MalformedPayload` (answer 400) saying why it can never be valid.

    orjson parses in C with its own nesting limit (no RecursionError) and rejects NaN and
    infinities (`1e400`). A lone UTF-16 surrogate (`"\\ud800"`, a text cut inside an emoji) is
    no reason to lose a customer's message: it is read again by the standard parser and
    replaced by U+FFFD, since a lone surrogate cannot be encoded for the queue. A NUL character
    (`"\\u0000"`) is dropped: PostgreSQL can store it neither in text nor in JSON.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        if "surrogate" not in str(e):
            raise MalformedPayload(f"body is not JSON: {e}") from e
        doc = _decode_with_surrogates(body)
    else:
        if b"\\u0000" in body:
            doc = _clean_strings(doc)
    _check_bounds(doc)
    return doc


def _decode_with_surrogates(body: bytes) -> Any:
    try:
        doc = json.loads(body)
    except RecursionError as e:
        raise MalformedPayload("body is nested too deeply") from e
    except ValueError as e:  # UnicodeDecodeError, and more than 4,300 digits in a number
        raise MalformedPayload(f"body is not JSON: {e}") from e
    return _clean_strings(doc)


def _clean_strings(doc: Any) -> Any:
    fix = _fixed
    root: list[Any] = [doc]
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MalformedPayload(f"body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, str):
                    node[i] = fix(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
        elif isinstance(node, dict):
            items = [(fix(k), fix(v) if isinstance(v, str) else v) for k, v in node.items()]
            node.clear()
            node.update(items)
            stack.extend((v, depth + 1) for _, v in items if isinstance(v, dict | list))
    return root[0]


def _fixed(text: str) -> str:
    text = text.replace("\x00", "")
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _check_bounds(doc: Any) -> None:
    """Depth, value count, string lengths and number ranges of a whole document, iteratively."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise MalformedPayload(f"body holds more than {MAX_NODES} values")
        if isinstance(node, dict):
            if depth >= MAX_DEPTH:
                raise MalformedPayload(f"body is nested deeper than {MAX_DEPTH} levels")
            for key, value in node.items():
                if len(key) > MAX_STRING:
                    raise MalformedPayload(f"a key is longer than {MAX_STRING} characters")
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            if depth >= MAX_DEPTH:
                raise MalformedPayload(f"body is nested deeper than {MAX_DEPTH} levels")
            stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, str):
            if len(node) > MAX_STRING:
                raise MalformedPayload(f"a string is longer than {MAX_STRING} characters")
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int):
            if not INT64_MIN <= node <= UINT64_MAX:
                raise MalformedPayload("an integer is outside the 64-bit range")
        elif isinstance(node, float) and not math.isfinite(node):
            raise MalformedPayload("a number is not finite")


# ---- the channel-neutral event ------------------------------------------------------------------


def clip(text: str | None, limit: int = MAX_NAME) -> str | None:
    """A display name cut to `limit` characters (names are cosmetic; cutting beats refusing)."""
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


def language(code: Any) -> str | None:
    """A platform's language code if it looks like one ("uk", "en-GB", "pt_br"), else None."""
    if isinstance(code, str) and len(code) <= MAX_LANGUAGE and _LANGUAGE.fullmatch(code):
        return code
    return None


def check_event(event: InboundEvent) -> None:
    """Raise `MalformedPayload` unless `event` fits the core's limits and serialises."""
    _text(event.user_id, "user_id", MAX_USER_ID, required=True)
    if not isinstance(event.timestamp, datetime) or event.timestamp.tzinfo is None:
        raise MalformedPayload("timestamp: expected an aware datetime")
    if isinstance(event, InboundMessage):
        _check_message(event)
    elif isinstance(event, ChannelEvent):
        _text(event.event_id, "event_id", MAX_EVENT_ID, required=True)
        _text(event.message_id, "message_id", MAX_MESSAGE_ID)
        _text(event.detail, "detail", MAX_DETAIL)
    try:
        encode_event(event)
    except (TypeError, orjson.JSONEncodeError) as e:
        raise MalformedPayload(f"event cannot be serialised: {e}") from e


def _check_message(msg: InboundMessage) -> None:
    _text(msg.message_id, "message_id", MAX_MESSAGE_ID, required=True)
    _text(msg.text, "text", MAX_TEXT)
    _text(msg.payload, "payload", MAX_PAYLOAD)
    _text(msg.contact_phone, "contact_phone", MAX_PHONE)
    _text(msg.deep_link, "deep_link", MAX_DETAIL)
    _text(msg.user_name, "user_name", MAX_NAME)
    _text(msg.language_hint, "language_hint", MAX_LANGUAGE)
    if len(msg.attachments) > MAX_ATTACHMENTS:
        raise MalformedPayload(f"more than {MAX_ATTACHMENTS} attachments")
    for att in msg.attachments:
        _text(att.url, "attachment url", MAX_URL)
        _text(att.name, "attachment name", MAX_DETAIL)
        for value, bound in ((att.latitude, 90.0), (att.longitude, 180.0)):
            if value is not None and not (
                isinstance(value, int | float) and math.isfinite(value) and abs(value) <= bound
            ):
                raise MalformedPayload(f"attachment coordinate {value!r} out of range")


def _text(value: Any, what: str, limit: int, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value):
        raise MalformedPayload(f"{what}: expected a non-empty string, got {repr(value)[:40]}")
    if len(value) > limit:
        raise MalformedPayload(f"{what}: longer than {limit} characters")
