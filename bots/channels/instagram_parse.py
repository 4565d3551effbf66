"""Parsing of Instagram Messaging webhook bodies (already signature-checked) into events.

One POST may batch several entries, each with several `messaging` items; every item is
parsed on its own, and an item we cannot use is logged and skipped without losing the rest.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from bots.channels.edge import check_event
from bots.channels.errors import MalformedPayload
from bots.channels.schema import Arr, Bool, IntOrStr, Num, Obj, Str
from bots.messages import Attachment, ChannelEvent, EventKind, InboundEvent, InboundMessage

log = logging.getLogger("bots.channels.instagram")

CHANNEL = "instagram"
_ATTACHMENT_KINDS: dict[str, Literal["image", "file", "video", "audio"]] = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "file": "file",
}


# The webhook's schema for the fields we read (developers.facebook.com, Instagram messaging
# webhooks). Ids are strings, but the dashboard's "Test" button sends numbers, and a string
# timestamp (seconds) where real events have an integer (ms).
MAX_BATCH = 1000
_ID = IntOrStr(128, required=True)
_TIMESTAMP = IntOrStr(20, lo=0, hi=253_402_300_799_999, required=True)
_MID = Str(512)
_REF = Obj({"ref": Str(1024)})
ENVELOPE = Obj({"object": Str(64, required=True), "entry": Arr(Obj(), MAX_BATCH, required=True)})
ENTRY = Obj(
    {
        "id": IntOrStr(128),
        "time": Num(0, 1e16),
        "messaging": Arr(Obj(), MAX_BATCH),
        "standby": Arr(Obj(), MAX_BATCH),
        "changes": Arr(Obj({"field": Str(128)}), MAX_BATCH),
    }
)
ITEM = Obj(
    {
        "sender": Obj({"id": _ID}, required=True),
        "recipient": Obj({"id": IntOrStr(128)}),
        "timestamp": _TIMESTAMP,
        "message": Obj(
            {
                "mid": _MID,
                "text": Str(4096),
                "is_echo": Bool(),
                "is_deleted": Bool(),
                "is_unsupported": Bool(),
                "quick_reply": Obj({"payload": Str(1000)}),
                "attachments": Arr(Obj({"type": Str(64), "payload": Obj({"url": Str(4096)})}), 20),
                "referral": _REF,
            }
        ),
        "postback": Obj({"mid": _MID, "title": Str(1024), "payload": Str(1000)}),
        "read": Obj({"mid": _MID}),
        "referral": _REF,
        "reaction": Obj({"mid": _MID, "action": Str(32), "reaction": Str(64), "emoji": Str(64)}),
    }
)


def parse_body(doc: Any) -> list[InboundEvent]:
    """Events of a decoded webhook body.

    Raises `MalformedPayload` for a wrong envelope, and for a body none of whose parts could
    be read: that body can never be valid. In a batch that also holds readable parts, the
    unreadable ones are skipped with one WARNING line, so the rest is not lost (Meta would
    re-send the whole batch for 36 hours).
    """
    ENVELOPE.check(doc, "body")
    if doc["object"] != "instagram":
        raise MalformedPayload(f"object is {doc['object'][:64]!r}, not 'instagram'")
    events: list[InboundEvent] = []
    problems: list[str] = []
    readable = 0
    for i, entry in enumerate(doc["entry"]):
        try:
            ENTRY.check(entry, f"entry[{i}]")
        except MalformedPayload as e:
            problems.append(str(e))
            continue
        for j, item in enumerate(_items(entry)):
            try:
                event = parse_item(item, str(entry.get("id", "")), f"entry[{i}].item[{j}]")
            except MalformedPayload as e:
                problems.append(str(e))
                continue
            readable += 1
            if event is not None:
                events.append(event)
        readable += not entry.get("messaging") and not entry.get("changes")
    if problems and not readable:
        raise MalformedPayload(problems[0])
    if problems:
        log.warning(
            "instagram: skipped %d malformed messaging item(s) or entries; the first: %s",
            len(problems),
            problems[0],
        )
    return events


def _items(entry: dict[str, Any]) -> list[Any]:
    items = list(entry.get("messaging") or ())
    for change in entry.get("changes") or ():
        # The dashboard's "Test" button sends this shape, with a string timestamp.
        if change.get("field") == "messages":
            items.append(change.get("value"))
        else:
            log.info("instagram: ignoring change field %r", change.get("field"))
    if entry.get("standby"):
        # Another app owns these threads (handover protocol): not ours to answer.
        log.info("instagram: dropping %d standby item(s)", len(entry["standby"]))
    return items


def _timestamp(value: Any) -> datetime:
    """Meta sends ms; the dashboard test sends seconds as a string."""
    try:
        number = int(value)
    except ValueError as e:
        raise MalformedPayload(f"bad timestamp {value!r}") from e
    seconds = number / 1000 if number > 10**11 else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError) as e:
        raise MalformedPayload(f"bad timestamp {value!r}") from e


def _id(obj: Any, what: str) -> str:
    value = obj.get("id") if isinstance(obj, dict) else None
    if value is None or value == "":
        raise MalformedPayload(f"missing {what}.id")
    return str(value)


def parse_item(item: Any, account_id: str, path: str = "item") -> InboundEvent | None:
    """One `messaging` item as an event, or None when it is to be dropped (and logged);
    `MalformedPayload` when it does not fit `ITEM` or the core's limits."""
    if item is None:
        raise MalformedPayload(f"{path}: null")
    ITEM.check(item, path)
    event = _parse_item(item, account_id)
    if event is not None:
        check_event(event)
    return event


def _parse_item(item: dict[str, Any], account_id: str) -> InboundEvent | None:
    sender = _id(item.get("sender"), "sender")
    ts = _timestamp(item.get("timestamp"))
    if isinstance(item.get("message"), dict):
        return _message(item, item["message"], sender, account_id, ts)
    if isinstance(item.get("postback"), dict):
        postback = item["postback"]
        mid = postback.get("mid") or f"postback:{sender}:{item.get('timestamp')}"
        return InboundMessage(
            channel=CHANNEL,
            user_id=sender,
            message_id=str(mid),
            timestamp=ts,
            text=postback.get("title"),
            payload=postback.get("payload"),
            raw=item,
        )
    if isinstance(item.get("read"), dict):
        mid = item["read"].get("mid")
        return ChannelEvent(
            channel=CHANNEL,
            user_id=sender,
            kind=EventKind.SEEN,
            event_id=f"read:{mid}:{sender}",
            timestamp=ts,
            message_id=str(mid) if mid else None,
            raw=item,
        )
    if isinstance(item.get("referral"), dict):
        ref = item["referral"].get("ref")
        return ChannelEvent(
            channel=CHANNEL,
            user_id=sender,
            kind=EventKind.CONVERSATION_STARTED,
            event_id=f"referral:{sender}:{item.get('timestamp')}",
            timestamp=ts,
            detail=str(ref) if ref is not None else None,  # the ig.me link's `ref`
            raw=item,
        )
    if isinstance(item.get("reaction"), dict):
        reaction = item["reaction"]
        # No channel-neutral kind for reactions yet: acknowledged and logged only.
        log.info(
            "instagram: %s %s reaction on %s (not forwarded)",
            sender,
            reaction.get("action"),
            reaction.get("mid"),
        )
        return None
    log.info("instagram: ignoring messaging item with keys %s", sorted(item))
    return None


def _message(
    item: dict[str, Any], message: dict[str, Any], sender: str, account_id: str, ts: datetime
) -> InboundMessage | None:
    mid = message.get("mid")
    if message.get("is_echo") or (account_id and sender == account_id):
        return None  # our own message coming back: answering it would loop
    if not mid:
        raise MalformedPayload("message without mid")
    if message.get("is_deleted"):
        # The customer unsent `mid`. Its dedup key is taken already, so it cannot be a new
        # message; no channel-neutral kind for deletions yet.
        log.info("instagram: message %s was deleted by %s (not forwarded)", mid, sender)
        return None
    attachments: list[Attachment] = []
    if message.get("is_unsupported"):
        attachments.append(Attachment(kind="other"))
    for att in message.get("attachments") or ():
        if not isinstance(att, dict):
            continue
        payload: dict[str, Any] = att["payload"] if isinstance(att.get("payload"), dict) else {}
        # share, story_mention, ig_reel, ... are links to Instagram content: kept as "other".
        kind: Literal["image", "file", "video", "audio", "other"] = _ATTACHMENT_KINDS.get(
            str(att.get("type")), "other"
        )
        attachments.append(Attachment(kind=kind, url=payload.get("url")))
    quick_reply = message.get("quick_reply")
    referral = message.get("referral") or item.get("referral")
    return InboundMessage(
        channel=CHANNEL,
        user_id=sender,
        message_id=str(mid),
        timestamp=ts,
        text=message.get("text"),
        payload=quick_reply.get("payload") if isinstance(quick_reply, dict) else None,
        attachments=tuple(attachments),
        deep_link=referral.get("ref") if isinstance(referral, dict) else None,
        raw=item,  # keeps `reply_to` ({mid} or {story}) for the transcript
    )
