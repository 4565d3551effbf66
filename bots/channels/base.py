"""The `Channel` protocol and the helpers every platform adapter shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from aiohttp import web

from bots.messages import Button, InboundEvent, OutboundMessage, SentMessage


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """What a platform accepts in one message, and how fast we may send."""

    max_text: int
    max_buttons: int
    max_button_title: int
    max_payload_bytes: int | None = None
    per_chat_rate: float | None = None  # messages per second to one chat
    global_rate: float | None = None  # messages per second overall


@dataclass(frozen=True, slots=True)
class SendContext:
    """Facts the core knows about the recipient that a channel may need to send correctly."""

    last_inbound_at: datetime | None = None  # last message from this user on this channel
    sender: str = "bot"  # "bot" or "agent" (Instagram HUMAN_AGENT tag)


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int


class Ingress(Protocol):
    """What a webhook hands its parsed events to: dedup, then enqueue."""

    async def accept(self, events: Sequence[InboundEvent]) -> IngestResult: ...


@runtime_checkable
class Channel(Protocol):
    """One messaging platform: webhook routes in, rendered messages out."""

    name: str
    limits: ChannelLimits

    def routes(self, ingress: Ingress) -> list[web.RouteDef]:
        """aiohttp routes of this channel's webhook(s)."""
        ...

    async def start(self) -> None:
        """Open HTTP clients; register the webhook when a public URL is configured."""
        ...

    async def close(self) -> None: ...

    async def send(
        self, recipient_id: str, message: OutboundMessage, context: SendContext
    ) -> SentMessage:
        """Send one message; raise a `SendError` subclass on failure."""
        ...


# ---- rendering helpers shared by channels ----------------------------------------------------


def split_text(text: str, max_len: int) -> list[str]:
    """Split text into chunks of at most `max_len` characters, preferring paragraph,
    line and word boundaries."""
    if max_len <= 0:
        raise ValueError("max_len must be positive")
    text = text.strip() or text
    chunks: list[str] = []
    while len(text) > max_len:
        window = text[:max_len]
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            pos = window.rfind(sep)
            if pos > max_len // 3:
                cut = pos + len(sep)
                break
        if cut <= 0:
            cut = max_len
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text or not chunks:
        chunks.append(text)
    return chunks


def truncate(title: str, max_len: int) -> str:
    return title if len(title) <= max_len else title[: max_len - 1].rstrip() + "…"


def fit_buttons(
    text: str, buttons: Sequence[Button], limits: ChannelLimits
) -> tuple[str, list[Button]]:
    """Keep what fits as buttons; the surplus becomes a numbered list in the text.

    Customers can answer a numbered option by typing its number or its title; the flow
    layer matches both, so nothing offered is lost when a platform has fewer buttons. A link
    button (`Button.url`) that does not fit keeps its address in the text.
    """
    kept = [
        Button(title=truncate(b.title, limits.max_button_title), payload=b.payload, url=b.url)
        for b in buttons[: limits.max_buttons]
    ]
    surplus = buttons[limits.max_buttons :]
    if surplus:
        start = len(kept) + 1
        lines = [listed(b, i) for i, b in enumerate(surplus, start=start)]
        text = text + "\n\n" + "\n".join(lines)
    return text, kept


def links_in_text(text: str, buttons: Sequence[Button]) -> str:
    """`text` with the title and address of every link button on a line of its own: for a
    place that can show payload buttons but no link buttons (a reply keyboard, say)."""
    lines = [listed(b) for b in buttons if b.url is not None]
    if not lines:
        return text
    return (text + "\n\n" if text.strip() else "") + "\n".join(lines)


def listed(button: Button, number: int | None = None) -> str:
    """A button as a line of text: `N. title` (typed back as N or the title), or `title: url`
    for a link, which is opened, not typed (so it has no number)."""
    if button.url is not None:
        return f"{button.title}: {button.url}"
    return f"{number}. {button.title}" if number is not None else button.title
