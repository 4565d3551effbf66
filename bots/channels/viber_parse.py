"""Parsing of Viber callbacks (already signature-checked) into channel-neutral events."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from viberbot.api.messages import MESSAGE_TYPE_TO_CLASS
from viberbot.api.viber_requests import EVENT_TYPE_TO_CLASS, create_request

from bots.channels.edge import MAX_PHONE, check_event, clip, decode_json, language
from bots.channels.errors import MalformedPayload
from bots.channels.schema import INT64_MAX, Bool, Int, Num, Obj, Str
from bots.channels.viber_render import decode_button_titles
from bots.messages import Attachment, ChannelEvent, EventKind, InboundEvent, InboundMessage

log = logging.getLogger("bots.channels.viber")

CHANNEL = "viber"
_RECEIPTS = {"delivered": EventKind.DELIVERED, "seen": EventKind.SEEN, "failed": EventKind.FAILED}
# Message types we turn into an InboundMessage; viberbot also models rich_media and keyboard,
# which users do not send.
SUPPORTED_MESSAGE_TYPES = frozenset(
    {"text", "contact", "location", "picture", "file", "video", "sticker", "url"}
)


def parse_callback(
    body: bytes, *, payload_prefix: str
) -> tuple[dict[str, Any], list[InboundEvent]]:
    """The callback's JSON object and the events it carries (none for `webhook`).

    Unknown events and message types are logged and yield no events: the caller still
    answers 200, or Viber would retry them for an hour. Python's json keeps the 64-bit
    `message_token` exact (ints are never floats). Raises `MalformedPayload`.
    """
    doc = decode_json(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("event"), str):
        raise MalformedPayload("body is not a JSON object with an 'event'")
    event = doc["event"]
    if event not in EVENT_TYPE_TO_CLASS:
        log.info("viber: ignoring unsupported event %r", event[:64])
        return doc, []
    SCHEMA.get(event, _BASE).check(doc, event)
    if event == "message":
        kind = doc["message"]["type"]
        if kind not in MESSAGE_TYPE_TO_CLASS or kind not in SUPPORTED_MESSAGE_TYPES:
            log.info("viber: ignoring unsupported message type %r", kind)
            return doc, []
    try:
        parsed = create_request(doc)
    except Exception as e:  # viberbot raises bare Exception, KeyError, TypeError
        raise MalformedPayload(f"{event} callback: {e!r}") from e
    if event == "webhook":
        return doc, []
    converted = _convert(event, doc, parsed, payload_prefix)
    check_event(converted)
    return doc, [converted]


# The callbacks' schema for the fields we read (developers.viber.com, REST Bot API): times are
# ms, `message_token` a 64-bit integer above 2^53 (kept exact: JSON integers stay ints), user
# ids strings such as "01234567890A+/=", a text at most 7,000 characters.
_MS = Int(0, 253_402_300_799_999)  # up to the year 9999
_TOKEN = Int(0, INT64_MAX)
_USER = Obj(
    {
        "id": Str(128, required=True, non_empty=True),
        "name": Str(256),
        "avatar": Str(4096),
        "country": Str(8),
        "language": Str(64),
        "api_version": Int(0, 1000),
    },
    required=True,
)
_BASE = Obj({"timestamp": _MS, "message_token": _TOKEN})
_MESSAGE = Obj(
    {
        "type": Str(32, required=True),
        "text": Str(7000),
        "media": Str(4096),
        "thumbnail": Str(4096),
        "file_name": Str(1024),
        "size": Int(0),
        "sticker_id": Int(0),
        "tracking_data": Str(4096),
        "location": Obj({"lat": Num(-90, 90, required=True), "lon": Num(-180, 180, required=True)}),
        "contact": Obj({"name": Str(256), "phone_number": Str(64), "avatar": Str(4096)}),
    },
    required=True,
)
_RECEIPT = Obj(
    {
        "timestamp": Int(0, _MS.hi, required=True),
        "message_token": Int(0, INT64_MAX, required=True),
        "user_id": Str(128, required=True, non_empty=True),
        "desc": Str(1024),
    }
)
SCHEMA: dict[str, Obj] = {
    "message": Obj(
        {
            "timestamp": Int(0, _MS.hi, required=True),
            "message_token": Int(0, INT64_MAX, required=True),
            "sender": _USER,
            "message": _MESSAGE,
            "silent": Bool(),
        }
    ),
    "conversation_started": Obj(
        {
            "timestamp": Int(0, _MS.hi, required=True),
            "message_token": _TOKEN,
            "user": _USER,
            "context": Str(1024),
            "type": Str(32),
            "subscribed": Bool(),
        }
    ),
    "subscribed": Obj(
        {"timestamp": Int(0, _MS.hi, required=True), "message_token": _TOKEN, "user": _USER}
    ),
    "unsubscribed": Obj(
        {
            "timestamp": Int(0, _MS.hi, required=True),
            "message_token": _TOKEN,
            "user_id": Str(128, required=True, non_empty=True),
        }
    ),
    "delivered": _RECEIPT,
    "seen": _RECEIPT,
    "failed": _RECEIPT,
}


def _ms_to_datetime(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedPayload(f"bad timestamp {value!r}")
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError) as e:
        raise MalformedPayload(f"bad timestamp {value!r}") from e


def _convert(event: str, doc: dict[str, Any], parsed: Any, prefix: str) -> InboundEvent:
    ts = _ms_to_datetime(doc.get("timestamp"))
    if event == "message":
        return _message(doc, parsed, ts, prefix)
    if event == "conversation_started":
        user = parsed.user
        _require(user.id, "conversation_started without user.id")
        return ChannelEvent(
            channel=CHANNEL,
            user_id=str(user.id),
            kind=EventKind.CONVERSATION_STARTED,
            event_id=f"conversation_started:{doc.get('message_token')}:{user.id}",
            timestamp=ts,
            detail=parsed.context,  # the deep link's `context`, for identity linking
            raw=doc,
        )
    if event in ("subscribed", "unsubscribed"):
        user_id = parsed.user.id if event == "subscribed" else parsed.user_id
        _require(user_id, f"{event} without a user id")
        token = doc.get("message_token", doc.get("timestamp"))
        return ChannelEvent(
            channel=CHANNEL,
            user_id=str(user_id),
            kind=EventKind.UNBLOCKED if event == "subscribed" else EventKind.BLOCKED,
            event_id=f"{event}:{token}:{user_id}",
            timestamp=ts,
            raw=doc,
        )
    token = str(parsed.message_token)
    _require(parsed.user_id, f"{event} without user_id")
    return ChannelEvent(
        channel=CHANNEL,
        user_id=str(parsed.user_id),
        kind=_RECEIPTS[event],
        event_id=f"{event}:{token}:{parsed.user_id}",
        timestamp=ts,
        message_id=token,
        detail=parsed.desc if event == "failed" else None,
        raw=doc,
    )


def _require(value: Any, problem: str) -> None:
    if value is None or value == "":
        raise MalformedPayload(problem)


def _message(doc: dict[str, Any], parsed: Any, ts: datetime, prefix: str) -> InboundMessage:
    sender, msg, kind = parsed.sender, parsed.message, doc["message"]["type"]
    _require(sender.id, "message without sender.id")
    text: str | None = None
    payload: str | None = None
    phone: str | None = None
    attachments: tuple[Attachment, ...] = ()
    if kind == "text":
        text = msg.text
        if text is not None and text.startswith(prefix):
            # A reply-keyboard tap: the text is the ActionBody we built.
            payload = text[len(prefix) :]
            text = decode_button_titles(msg.tracking_data).get(payload)
    elif kind == "contact":
        phone = msg.contact.phone_number if msg.contact is not None else None
        if phone is not None and len(phone.strip()) > MAX_PHONE:
            phone = None  # not a number the core can use
    elif kind == "location":
        loc = msg.location
        attachments = (
            Attachment(
                kind="location",
                latitude=loc.latitude if loc else None,
                longitude=loc.longitude if loc else None,
            ),
        )
    elif kind == "picture":
        text = msg.text or None  # the caption
        attachments = (Attachment(kind="image", url=msg.media),)
    elif kind == "file":
        attachments = (Attachment(kind="file", url=msg.media, name=msg.file_name),)
    elif kind == "video":
        text = msg.text or None
        attachments = (Attachment(kind="video", url=msg.media),)
    elif kind == "sticker":
        media = doc["message"].get("media")
        attachments = (Attachment(kind="sticker", url=media, name=str(msg.sticker_id)),)
    elif kind == "url":
        text = msg.media
    return InboundMessage(
        channel=CHANNEL,
        user_id=str(sender.id),
        message_id=str(doc["message_token"]),
        timestamp=ts,
        text=text,
        payload=payload,
        contact_phone=phone,
        # Viber delivers a contact from its own share-phone button; the brief trusts it.
        contact_verified=phone is not None,
        attachments=attachments,
        user_name=clip(sender.name),
        language_hint=language(sender.language),
        raw=doc,
    )
