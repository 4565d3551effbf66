"""Parsing of Instagram Messaging webhook bodies (already signature-checked) into events.

One POST may batch several entries, each with several `messaging` items; every item is
parsed on its own, and an item we cannot use is logged and skipped without losing the rest.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from bots.channels.errors import MalformedPayload
from bots.messages import Attachment, ChannelEvent, EventKind, InboundEvent, InboundMessage

log = logging.getLogger("bots.channels.instagram")

CHANNEL = "instagram"
_ATTACHMENT_KINDS: dict[str, Literal["image", "file", "video", "audio"]] = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "file": "file",
}


def parse_body(doc: Any) -> list[InboundEvent]:
    """Events of a decoded webhook body. Raises `MalformedPayload` for a wrong envelope."""
    if not isinstance(doc, dict):
        raise MalformedPayload("body is not a JSON object")
    if doc.get("object") != "instagram":
        raise MalformedPayload(f"object is {doc.get('object')!r}, not 'instagram'")
    entries = doc.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload("'entry' is not a list")
    events: list[InboundEvent] = []
    for entry in entries:
        if not isinstance(entry, dict):
            log.warning("instagram: skipping an entry that is not an object")
            continue
        account_id = str(entry.get("id", ""))
        items = list(entry.get("messaging") or ())
        for change in entry.get("changes") or ():
            # The dashboard's "Test" button sends this shape, with a string timestamp.
            if isinstance(change, dict) and change.get("field") == "messages":
                items.append(change.get("value"))
            else:
                field = change.get("field") if isinstance(change, dict) else None
                log.info("instagram: ignoring change field %r", field)
        if entry.get("standby"):
            # Another app owns these threads (handover protocol): not ours to answer.
            log.info("instagram: dropping %d standby item(s)", len(entry["standby"]))
        for item in items:
            try:
                event = parse_item(item, account_id)
            except MalformedPayload as e:
                log.warning("instagram: skipping a malformed messaging item: %s", e)
                continue
            if event is not None:
                events.append(event)
    return events


def _timestamp(value: Any) -> datetime:
    """Meta sends ms; the dashboard test sends seconds as a string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedPayload(f"bad timestamp {value!r}")
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


def parse_item(item: Any, account_id: str) -> InboundEvent | None:
    """One `messaging` item as an event, or None when it is to be dropped (and logged)."""
    if not isinstance(item, dict):
        raise MalformedPayload("messaging item is not an object")
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
