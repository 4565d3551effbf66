"""What the campaign sent and what came back, with times: the raw material of the report.

Each customer message asks about an order number that encodes its place in the customer's
sequence (``order Z00007`` is message 7); the bot answers every such question with one reply
naming the number ("I couldn't find order Z00007..."), so each reply is attributable to one
message of one customer, and its arrival order can be checked.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

_NUMBER = re.compile(r"\bZ(\d{5})\b")

Key = tuple[str, str, int]  # channel, customer id on that channel, sequence number


def question(seq: int) -> str:
    """The text of message `seq` of a customer."""
    return f"order Z{seq:05d}"


@dataclass
class Message:
    """One customer message and the platform's attempts to deliver it to the webhook."""

    channel: str
    customer: str
    seq: int
    first_post: float
    accepted_at: float | None = None  # first 2xx of any of its copies
    posts: int = 0
    refused: int = 0  # non-2xx answers and failed connections, each retried by the platform
    accepted: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def key(self) -> Key:
        return (self.channel, self.customer, self.seq)


@dataclass(frozen=True, slots=True)
class Reply:
    channel: str
    customer: str
    seq: int | None  # None: a reply that names no order number (not attributable)
    at: float
    text: str


class Ledger:
    """Messages by key, replies in arrival order."""

    def __init__(self) -> None:
        self.messages: dict[Key, Message] = {}
        self.replies: list[Reply] = []
        self.by_key: dict[Key, list[Reply]] = defaultdict(list)
        self.statuses: Counter[int] = Counter()  # webhook answers seen by the platforms
        self._changed = asyncio.Event()

    def new_message(self, channel: str, customer: str, seq: int) -> Message:
        message = Message(channel, customer, seq, first_post=time.monotonic())
        self.messages[message.key] = message
        return message

    def posted(self, message: Message, status: int) -> None:
        """Record one webhook attempt of `message` and the HTTP status it got (0: no answer)."""
        message.posts += 1
        self.statuses[status] += 1
        if 200 <= status < 300:
            if message.accepted_at is None:
                message.accepted_at = time.monotonic()
                message.accepted.set()
        else:
            message.refused += 1

    def reply(self, channel: str, customer: str, text: str) -> None:
        match = _NUMBER.search(text)
        seq = int(match.group(1)) if match else None
        reply = Reply(channel, customer, seq, time.monotonic(), text)
        self.replies.append(reply)
        if seq is not None:
            self.by_key[(channel, customer, seq)].append(reply)
        self._changed.set()

    def accepted(self) -> list[Message]:
        return [m for m in self.messages.values() if m.accepted_at is not None]

    def unanswered(self) -> list[Message]:
        """Accepted messages without a reply yet."""
        return [m for m in self.accepted() if not self.by_key.get(m.key)]

    def all_answered(self) -> bool:
        return not self.unanswered()
