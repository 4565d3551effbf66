"""The erasure's steps outside SQL: the NLU review log (a JSONL file) and the key-value
backends (Redis, or this process's memory).

Redis: the customer's sessions and the duplicate markers of their messages are deleted by
name (`storage.keys`); any key tagged with one of their chats, ``...{<channel>:<chat id>}``
(the per-sender rate buckets, and whatever a later feature keys by sender the same way), is
found with SCAN and deleted; queue and
dead-letter stream entries whose ordering key is one of their chats are removed with XDEL.
Memory: the same through the stores' own methods (sessions, duplicate filter) and the in-process
queue's dead letters. The web chat visitors' event logs (what their page shows) go too, in Redis
or in this process. Both are idempotent: a second run finds nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bots.channels.webchat_log import erase_visitor_logs
from bots.privacy.erasure_sql import Subject
from storage.backends import Backends
from storage.errors import BackendUnavailable
from storage.keys import Keys
from storage.queue_memory import MemoryQueue

__all__ = ["erase_keys", "erase_review_log"]

_SCAN_COUNT = 500


def erase_review_log(path: Path | None, who: Subject) -> int:
    """Rewrite the review log without the lines whose text the customer wrote (matched on the
    stripped text, as the transcript has it); returns how many lines went. The file is
    replaced atomically (a temp file renamed over it); lines appended meanwhile are carried
    over (read again from where it was read, and filtered the same way)."""
    if path is None or not who.texts or not path.exists():
        return 0
    raw = path.read_bytes()
    kept, removed = _without(raw, who)
    if not removed:
        return 0
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".review-", suffix=".jsonl")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.writelines(kept)
    with path.open("rb") as f:  # what was appended since
        f.seek(len(raw))
        appended, more = _without(f.read(), who)
    with open(tmp, "a", encoding="utf-8") as f:
        f.writelines(appended)
    os.replace(tmp, path)
    return removed + more


def _without(raw: bytes, who: Subject) -> tuple[list[str], int]:
    lines = raw.decode("utf-8", errors="replace").splitlines(keepends=True)
    kept = [line for line in lines if _review_text(line) not in who.texts]
    return kept, len(lines) - len(kept)


def _review_text(line: str) -> str | None:
    try:
        doc: Any = json.loads(line)
    except ValueError:
        return None
    text = doc.get("text") if isinstance(doc, dict) else None
    return text.strip() if isinstance(text, str) else None


async def erase_keys(backends: Backends, who: Subject) -> int:
    """Sessions, duplicate markers, per-sender keys and queued events of the customer; how many
    keys and entries went."""
    count = 0
    for customer_id in who.ids:
        await backends.sessions.delete(customer_id)
    for channel, platform_id in who.inbound:
        await backends.dedup.forget(f"{channel}:{platform_id}")
    visitors = [external_id for channel, external_id in who.identities if channel == "webchat"]
    if backends.redis is not None and backends.keys is not None:
        try:
            count += await _redis(backends.redis, backends.keys, who)
            count += await erase_visitor_logs(backends.redis, backends.keys.prefix, visitors)
        except (RedisError, OSError) as e:
            raise BackendUnavailable(f"Redis erasure failed: {e}") from e
    elif isinstance(backends.queue, MemoryQueue):
        count += await erase_visitor_logs(None, None, visitors)
        before = len(backends.queue.dead_letters)
        keys = who.ordering_keys
        backends.queue.dead_letters[:] = [
            d for d in backends.queue.dead_letters if d.key not in keys
        ]
        count += before - len(backends.queue.dead_letters)
    return count + len(who.ids) + len(who.inbound)


async def _redis(redis: aioredis.Redis, keys: Keys, who: Subject) -> int:
    count = 0
    for channel, external_id in who.identities:
        pattern = f"{keys.prefix}:*{{{_glob_escape(channel)}:{_glob_escape(external_id)}}}"
        async for key in redis.scan_iter(match=pattern, count=_SCAN_COUNT):
            if await redis.type(key) != b"stream":
                count += int(await redis.delete(key))
    ordering = {k.encode() for k in who.ordering_keys}
    if not ordering:
        return count
    async for key in redis.scan_iter(match=f"{keys.prefix}:queue:*", count=_SCAN_COUNT):
        if await redis.type(key) == b"stream":
            count += await _drop_entries(redis, key, ordering)
    return count


async def _drop_entries(redis: aioredis.Redis, stream: bytes, ordering: set[bytes]) -> int:
    """XDEL the stream's entries whose ordering key (field ``k``) is one of ``ordering``."""
    count, start = 0, "-"
    while True:
        entries: Any = await redis.xrange(stream, min=start, max="+", count=_SCAN_COUNT)
        if not entries:
            return count
        doomed = [entry_id for entry_id, fields in entries if fields.get(b"k") in ordering]
        if doomed:
            count += int(await redis.xdel(stream, *doomed))
        if len(entries) < _SCAN_COUNT:
            return count
        start = "(" + _text(entries[-1][0])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _glob_escape(value: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)
