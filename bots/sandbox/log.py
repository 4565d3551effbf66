"""What the sandboxed platform APIs received: one record per message a channel sent."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any


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

    def __init__(self, keep: int = 5000) -> None:
        self._items: deque[Delivery] = deque(maxlen=keep)
        self._seq = 0
        self._changed: asyncio.Event | None = None
        self._closed = False

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
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        return item

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
