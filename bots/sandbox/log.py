"""What the sandboxed platform APIs received: one record per message a channel sent.

Given a file (`make run`: beside its SQLite database, see `bots.gateway.simulator`), the record
is also appended there as JSON lines and read back at start, so a restart neither empties the
simulator's tabs nor strands an open one (trial 3, T8): numbering goes on where it stopped.
Without one, numbering starts at the start's time in microseconds, above any earlier process's
numbers, so an open tab still gets the new replies (though not the old ones on a reload).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the platform received it.

    `markup` is the platform's own button structure, untouched: a Telegram `reply_markup`, a
    Viber `keyboard`, Instagram `quick_replies` or the payload of an Instagram button
    template (`template_type: button`); `extra` keeps what a client needs to answer
    a button the way the platform would (Viber's `tracking_data`, Telegram's `message_id`).
    """

    seq: int
    channel: str
    user_id: str
    text: str | None
    markup: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    via: str = "api"  # "api", or "webhook-response" for Viber's welcome message

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "channel": self.channel,
            "user_id": self.user_id,
            "text": self.text,
            "markup": self.markup,
            "extra": self.extra,
            "via": self.via,
        }


class SandboxLog:
    """A bounded, in-memory record of deliveries that clients can long-poll."""

    def __init__(self, keep: int = 5000, path: Path | None = None) -> None:
        self._items: deque[Delivery] = deque(maxlen=keep)
        self._keep = keep
        self._path = path
        self._lines = 0  # in the file, rewritten to the last `keep` once twice that
        self._changed: asyncio.Event | None = None
        self._closed = False
        kept = _read(path) if path is not None else None
        if not kept:
            self._seq = time.time_ns() // 1000
            return
        self._items.extend(kept)
        self._lines = len(kept)
        self._seq = kept[-1].seq

    def close(self) -> None:
        """Answer every waiting long-poll now (server shutdown) and wait no more."""
        self._closed = True
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def record(
        self,
        channel: str,
        user_id: str,
        text: str | None,
        markup: Any = None,
        extra: dict[str, Any] | None = None,
        via: str = "api",
    ) -> Delivery:
        self._seq += 1
        item = Delivery(self._seq, channel, user_id, text, markup, extra or {}, via)
        self._items.append(item)
        if self._path is not None:
            self._keep_on_disk(item)
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        return item

    def _keep_on_disk(self, item: Delivery) -> None:
        assert self._path is not None
        try:
            if self._lines >= 2 * self._keep:  # the older half goes: rewrite, then swap in
                tmp = self._path.with_name(self._path.name + ".tmp")
                tmp.write_text("".join(_line(d) for d in self._items), encoding="utf-8")
                os.replace(tmp, self._path)
                self._lines = len(self._items)
            else:
                with self._path.open("a", encoding="utf-8") as f:
                    f.write(_line(item))
                self._lines += 1
        except OSError as e:  # the simulator goes on; only a restart would forget this one
            log.warning("simulator: cannot keep a reply in %s (%s)", self._path, e)

    def after(self, seq: int, channel: str, user_id: str) -> list[Delivery]:
        return [
            d for d in self._items if d.seq > seq and d.channel == channel and d.user_id == user_id
        ]

    @property
    def last_seq(self) -> int:
        return self._seq

    async def wait_after(self, seq: int, channel: str, user_id: str, wait: float) -> list[Delivery]:
        """Deliveries after `seq` for this user; if none yet, wait up to `wait` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            found = self.after(seq, channel, user_id)
            left = deadline - loop.time()
            if found or left <= 0 or self._closed:
                return found
            if self._changed is None:
                self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=left)
            except TimeoutError:
                return self.after(seq, channel, user_id)


def _line(d: Delivery) -> str:
    return json.dumps(asdict(d), ensure_ascii=False) + "\n"


def _read(path: Path) -> list[Delivery] | None:
    """The kept deliveries in order (None: no file yet, or one that cannot be read); a line
    that is not one (a write cut short by a crash) is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        log.warning("simulator: cannot read the kept replies in %s (%s)", path, e)
        return None
    found: list[Delivery] = []
    for line in text.splitlines():
        try:
            found.append(Delivery(**json.loads(line)))
        except (ValueError, TypeError):
            log.warning("simulator: skipped a damaged line in %s", path)
    found.sort(key=lambda d: d.seq)
    return found
