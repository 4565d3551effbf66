"""Telegram updates -> channel-neutral events.

Only private chats are conversations with a customer; updates from groups and channels are
logged and dropped (a group would mix several customers under one chat id).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiogram.enums import ChatType
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InaccessibleMessage,
    Message,
    Update,
)

from bots.channels.edge import MAX_PHONE, clip, language
from bots.channels.schema import Arr, Bool, Int, Num, Obj, Str
from bots.channels.telegram_render import HASHED_PREFIX
from bots.messages import Attachment, ChannelEvent, EventKind, InboundEvent, InboundMessage

log = logging.getLogger(__name__)

CHANNEL = "telegram"
# The update kinds the core hears about; everything else is acknowledged and dropped without
# validation, so schema drift in kinds we never read (polls, reactions...) cannot reject them.
HANDLED = ("message", "edited_message", "callback_query", "my_chat_member")


# The Bot API's schema for the fields the core reads (core.telegram.org/bots/api): ids are
# 64-bit, dates Unix seconds (uint32), a text 4,096 characters. aiogram's models check the rest.
_DATE = Int(0, 2**32 - 1)
_USER = Obj(
    {
        "id": Int(required=True),
        "is_bot": Bool(),
        "first_name": Str(256),
        "last_name": Str(256),
        "username": Str(64),
        "language_code": Str(64),
    }
)
_CHAT = Obj({"id": Int(required=True), "type": Str(32, required=True)}, required=True)
_KEYBOARD = Obj(
    {"inline_keyboard": Arr(Arr(Obj({"text": Str(256), "callback_data": Str(64)}), 16), 100)}
)
_MESSAGE = Obj(
    {
        "message_id": Int(required=True),
        "date": _DATE,
        "edit_date": _DATE,
        "chat": _CHAT,
        "from": _USER,
        "text": Str(4096),
        "caption": Str(4096),
        "contact": Obj(
            {"phone_number": Str(64, required=True), "user_id": Int(), "first_name": Str(256)}
        ),
        "location": Obj(
            {"latitude": Num(-90, 90, required=True), "longitude": Num(-180, 180, required=True)}
        ),
        "document": Obj({"file_name": Str(1024)}),
        "reply_markup": _KEYBOARD,
    }
)
_MEMBER = Obj({"status": Str(32, required=True)}, required=True)
SCHEMA: dict[str, Obj] = {
    "message": _MESSAGE,
    "edited_message": _MESSAGE,
    "callback_query": Obj(
        {
            "id": Str(256, required=True),
            "from": Obj(_USER.fields, required=True),
            "data": Str(256),
            "message": Obj({"chat": _CHAT, "date": _DATE, "reply_markup": _KEYBOARD}),
        }
    ),
    "my_chat_member": Obj(
        {
            "chat": _CHAT,
            "from": _USER,
            "date": _DATE,
            "old_chat_member": _MEMBER,
            "new_chat_member": _MEMBER,
        }
    ),
}
UPDATE_ID = Int(0, 2**63 - 1)


def handled_kind(raw: dict[str, Any]) -> str | None:
    """The kind of a raw update if we handle it, its fields checked against `SCHEMA`
    (`MalformedPayload` if they do not fit); otherwise log it at INFO and say None."""
    UPDATE_ID.check(raw.get("update_id"), "update_id")
    for kind in HANDLED:
        if raw.get(kind) is not None:
            SCHEMA[kind].check(raw[kind], kind)
            return kind
    kinds = ",".join(sorted(k[:32] for k in raw if k != "update_id")[:5]) or "?"
    log.info("telegram: update %s of kind %s ignored", raw["update_id"], kinds)
    return None


def repair_update(data: Any) -> Any:
    """Patch known deviations of real updates from the documented schema before validation.

    A 2025 capture had `contact.first_name: null` (documented as required); rejecting such an
    update with 400 would make Telegram re-send it for a day and slow every other update down.
    """
    if isinstance(data, dict):
        for key in ("message", "edited_message"):
            message = data.get(key)
            contact = message.get("contact") if isinstance(message, dict) else None
            if isinstance(contact, dict) and contact.get("first_name") is None:
                contact["first_name"] = ""
    return data


def normalise(update: Update, raw: dict[str, Any]) -> list[InboundEvent]:
    """The events an update carries for the core: none, or one.

    `update_id` is the dedup key of every event: Telegram re-sends an unacknowledged update
    with the same `update_id`, so it is the platform's own retry key.
    """
    uid = str(update.update_id)
    if update.message is not None:
        return _message(update.message, uid, raw, edited=False)
    if update.edited_message is not None:
        return _message(update.edited_message, uid, raw, edited=True)
    if update.callback_query is not None:
        return _callback(update.callback_query, uid, raw)
    if update.my_chat_member is not None:
        return _membership(update.my_chat_member, uid, raw)
    return []  # handled_kind() has filtered the rest out


def _is_private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


def _message(
    message: Message, uid: str, raw: dict[str, Any], *, edited: bool
) -> list[InboundEvent]:
    if not _is_private(message):
        log.info("telegram: update %s from a %s chat ignored", uid, message.chat.type)
        return []
    user = message.from_user
    text = message.text if message.text is not None else message.caption
    deep_link: str | None = None
    if text is not None and (text == "/start" or text.startswith("/start ")):
        # t.me/<bot>?start=PAYLOAD arrives as "/start PAYLOAD"; the core gets both parts.
        deep_link = text[len("/start ") :].strip() or None
        text = "/start"
    phone: str | None = None
    verified = False
    if message.contact is not None:
        contact = message.contact
        # Trust the number as the sender's own only when Telegram ties it to the sender;
        # phone-book contacts have no user_id, other users' contacts a different one.
        verified = user is not None and contact.user_id == user.id
        phone = contact.phone_number.strip()
        if verified and phone.isdigit():
            phone = "+" + phone  # a user's own number is always international
        if len(phone) > MAX_PHONE:  # a phone-book entry with notes: not a number we can use
            phone, verified = None, False
    timestamp = message.date
    if edited and message.edit_date:
        timestamp = datetime.fromtimestamp(message.edit_date, UTC)
    return [
        InboundMessage(
            channel=CHANNEL,
            user_id=str(message.chat.id),
            message_id=uid,
            timestamp=timestamp,
            text=text,
            contact_phone=phone,
            contact_verified=verified,
            attachments=_attachments(message),
            deep_link=deep_link,
            user_name=clip(user.full_name) if user is not None else None,
            language_hint=language(user.language_code) if user is not None else None,
            edited=edited,
            raw=raw,
        )
    ]


def _attachments(message: Message) -> tuple[Attachment, ...]:
    if message.location is not None:
        loc = message.location
        return (Attachment(kind="location", latitude=loc.latitude, longitude=loc.longitude),)
    if message.photo:
        return (Attachment(kind="image"),)
    if message.document is not None:
        return (Attachment(kind="file", name=message.document.file_name),)
    if message.video is not None or message.video_note is not None:
        return (Attachment(kind="video"),)
    if message.audio is not None or message.voice is not None:
        return (Attachment(kind="audio"),)
    if message.sticker is not None:
        return (Attachment(kind="sticker"),)
    return ()


def _callback(query: CallbackQuery, uid: str, raw: dict[str, Any]) -> list[InboundEvent]:
    message = query.message
    if message is not None and message.chat.type != ChatType.PRIVATE:
        log.info("telegram: callback %s from a %s chat ignored", uid, message.chat.type)
        return []
    if query.data is None:
        log.info("telegram: callback %s without data ignored", uid)
        return []
    payload: str | None = query.data
    # The tapped button's title, read back from the message's keyboard, is the message's text
    # (as Viber and Instagram report a tap): what the customer "said", for the transcript.
    text = _title_of(message, query.data)
    if query.data.startswith(HASHED_PREFIX) and text is not None:
        # A payload too long for callback_data was sent as a digest (see telegram_render).
        # The title stands in for it: flows match option titles as well as payloads.
        payload = None
    user = query.from_user
    return [
        InboundMessage(
            channel=CHANNEL,
            user_id=str(message.chat.id if message is not None else user.id),
            message_id=uid,
            timestamp=datetime.now(UTC),  # callback queries carry no date
            text=text,
            payload=payload,
            user_name=clip(user.full_name),
            language_hint=language(user.language_code),
            raw=raw,
        )
    ]


def _title_of(message: Message | InaccessibleMessage | None, data: str) -> str | None:
    if not isinstance(message, Message) or message.reply_markup is None:
        return None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def _membership(change: ChatMemberUpdated, uid: str, raw: dict[str, Any]) -> list[InboundEvent]:
    if change.chat.type != ChatType.PRIVATE:
        log.info("telegram: my_chat_member %s in a %s chat ignored", uid, change.chat.type)
        return []
    old, new = change.old_chat_member.status, change.new_chat_member.status
    if new == "kicked":
        kind = EventKind.BLOCKED
    elif new == "member" and old == "kicked":
        kind = EventKind.UNBLOCKED
    else:
        log.info("telegram: my_chat_member %s (%s -> %s) ignored", uid, old, new)
        return []
    return [
        ChannelEvent(
            channel=CHANNEL,
            user_id=str(change.chat.id),
            kind=kind,
            event_id=uid,
            timestamp=change.date,
            raw=raw,
        )
    ]
