"""Channel-neutral messages: what the core sees of every platform.

Inbound events are parsed from a platform webhook by a channel adapter; outbound
messages are produced by flows (or agents) and rendered by a channel adapter.
They are frozen dataclasses and serialise to plain JSON for the queue.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import orjson


class EventKind(StrEnum):
    """Non-message events a platform reports about a user or a message we sent."""

    BLOCKED = "blocked"  # Telegram my_chat_member -> kicked, Viber unsubscribed
    UNBLOCKED = "unblocked"  # Telegram kicked -> member, Viber subscribed
    CONVERSATION_STARTED = "conversation_started"  # Viber, opened the chat
    DELIVERED = "delivered"
    SEEN = "seen"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: Literal["image", "file", "video", "audio", "location", "sticker", "other"]
    url: str | None = None
    name: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class Button:
    """A choice the customer can tap. `payload` comes back as `InboundMessage.payload`.

    A button with a `url` opens that address instead (a web page, or a messenger's deep link
    such as "continue in Telegram"): nothing comes back to the bot when it is tapped, and its
    `payload` is unused. Channels render it as their own link button, or as the address in the
    text where they have none.
    """

    title: str
    payload: str = ""
    url: str | None = None

    @property
    def is_link(self) -> bool:
        return self.url is not None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One customer message, from any channel."""

    channel: str  # "telegram", "viber", "instagram", "rest"
    user_id: str  # the platform's id of the customer (chat id for Telegram private chats)
    message_id: str  # the platform's id of this message; (channel, message_id) is unique
    timestamp: datetime
    text: str | None = None
    payload: str | None = None  # button / quick-reply / callback payload
    contact_phone: str | None = None  # phone shared with the platform's own contact button
    contact_verified: bool = False  # True only when the platform vouches it is the sender's own
    attachments: tuple[Attachment, ...] = ()
    deep_link: str | None = None  # /start PAYLOAD, Viber context, Instagram ref
    user_name: str | None = None
    language_hint: str | None = None  # the platform's language code for the user, if any
    edited: bool = False
    reply_to: str | None = None  # routing hint for synchronous channels (REST): gateway id
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    # set by the gateway's ingress as it accepts the message (`bots.gateway.ingress`): the Unix
    # time of the accept (end-to-end latency) and the id its log lines carry (`bots.logs`)
    received_at: float | None = field(default=None, compare=False)
    correlation_id: str | None = field(default=None, compare=False)

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}:{self.message_id}"

    @property
    def ordering_key(self) -> str:
        """Messages with one ordering key are processed one at a time, in order."""
        return f"{self.channel}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """A non-message event: block/unblock, delivery receipts, conversation opened."""

    channel: str
    user_id: str
    kind: EventKind
    event_id: str  # unique per platform event, for dedup
    timestamp: datetime
    message_id: str | None = None  # the outbound platform message id it refers to
    detail: str | None = None  # e.g. failure description, Viber context
    # a gateway waiting for the worker's answer (Viber's welcome to a deep link): its node id
    reply_to: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}:event:{self.event_id}"

    @property
    def ordering_key(self) -> str:
        return f"{self.channel}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What a flow or an agent says. Channels render it within their limits."""

    text: str
    buttons: tuple[Button, ...] = ()
    request_phone: bool = False  # ask for the platform's share-contact button if it has one
    attachment: Attachment | None = None
    sender: Literal["bot", "agent"] = "bot"
    phone_label: str | None = None  # that button's title, in the customer's language
    # the share-contact request of an earlier reply is over (the phone was typed instead):
    # channels that keep it on screen (Telegram's reply keyboard) take it away with this one
    close_phone_request: bool = False


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What a channel reports after a successful send."""

    platform_message_id: str | None
    parts: int = 1  # how many platform messages the outbound message became


@dataclass(slots=True)
class PendingSend:
    """An outbound row that is stored and waits to be sent by the outbox (`bots.worker.outbox`):
    made by the worker's turn, by identity (a linking code sent to another messenger) and by
    the handoff outlet."""

    row_id: int
    channel: str
    recipient_id: str
    message: OutboundMessage
    # monotonic time from which this process holds the reply (``messages.claimed_by`` and a
    # send lease written at that moment); None: not known to be ours, claim it before sending
    claimed_at: float | None = None
    # the inbound message it answers, when known: its log lines' id, and for its first reply
    # the Unix time the gateway accepted it (`omnirelay_reply_latency_seconds`)
    correlation_id: str | None = None
    received_at: float | None = None


InboundEvent = InboundMessage | ChannelEvent


def inbox_key(event: InboundEvent) -> tuple[str, str]:
    """``(channel, platform id)``: the event's unique key in the durable inbox (written by the
    gateway's ingress, marked processed by the worker once the turn's replies are stored)."""
    return event.channel, event.dedup_key.removeprefix(f"{event.channel}:")


def now_utc() -> datetime:
    return datetime.now(UTC)


# ---- JSON (de)serialisation for the queue ---------------------------------------------------


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


MAX_RAW_BYTES = 64 * 1024  # the platform payload kept on an event, serialised


def _raw_fragment(raw: dict[str, Any]) -> orjson.Fragment:
    """The raw platform payload as JSON, or a small note in its place when it cannot travel:
    deeper than orjson nests (255), integers beyond 64 bits, or simply too large. The event
    itself must always reach the queue; `raw` is only kept for reference."""
    try:
        encoded = orjson.dumps(raw, default=_default)
    except (TypeError, orjson.JSONEncodeError) as e:
        return orjson.Fragment(orjson.dumps({"omitted": f"not serialisable: {e}"[:200]}))
    if len(encoded) > MAX_RAW_BYTES:
        return orjson.Fragment(orjson.dumps({"omitted": f"{len(encoded)} bytes"}))
    return orjson.Fragment(encoded)


def encode_event(event: InboundEvent) -> bytes:
    # orjson serialises dataclasses, datetimes and enums natively (and without the recursive
    # copy `dataclasses.asdict` makes of the raw platform payload)
    kind = "message" if isinstance(event, InboundMessage) else "event"
    bounded = dataclasses.replace(event, raw=_raw_fragment(event.raw))  # type: ignore[arg-type]
    return orjson.dumps({"type": kind, "data": bounded}, default=_default)


def decode_event(body: bytes) -> InboundEvent:
    doc = orjson.loads(body)
    data = doc["data"]
    data["timestamp"] = datetime.fromisoformat(data["timestamp"])
    if doc["type"] == "message":
        data["attachments"] = tuple(Attachment(**a) for a in data.get("attachments") or ())
        return InboundMessage(**data)
    data["kind"] = EventKind(data["kind"])
    return ChannelEvent(**data)


def encode_outbound(message: OutboundMessage) -> dict[str, Any]:
    return dataclasses.asdict(message)


def decode_outbound(data: dict[str, Any]) -> OutboundMessage:
    attachment = data.get("attachment")
    return OutboundMessage(
        text=data["text"],
        # rows stored before buttons had a `url` decode as plain payload buttons
        buttons=tuple(
            Button(title=b["title"], payload=b.get("payload") or "", url=b.get("url"))
            for b in data.get("buttons") or ()
        ),
        request_phone=bool(data.get("request_phone")),
        attachment=Attachment(**attachment) if attachment else None,
        sender=data.get("sender", "bot"),
        phone_label=data.get("phone_label"),
        close_phone_request=bool(data.get("close_phone_request")),
    )
