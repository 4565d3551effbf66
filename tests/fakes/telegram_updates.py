"""Builders of realistic Telegram update JSON for tests and benchmarks: text messages,
`/start PAYLOAD` deep links, callback queries, contacts, edits, block/unblock, and a kind
the gateway does not handle (a poll)."""

from __future__ import annotations

import itertools
import time
from typing import Any

# ---- realistic updates -----------------------------------------------------------------------

BOT_USERNAME = "omnirelay_test_bot"

_update_ids = itertools.count(700_000_001)
_message_ids = itertools.count(1001)


def _user(
    user_id: int, first_name: str = "Olena", language_code: str | None = "uk"
) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        user["language_code"] = language_code
    return user


def _chat(chat_id: int, first_name: str = "Olena") -> dict[str, Any]:
    return {"id": chat_id, "first_name": first_name, "type": "private"}


def message_update(
    chat_id: int,
    *,
    update_id: int | None = None,
    date: int | None = None,
    edited: bool = False,
    **content: Any,
) -> dict[str, Any]:
    """An update carrying a private-chat message with the given content fields."""
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "from": _user(chat_id),
        "chat": _chat(chat_id),
        "date": date if date is not None else int(time.time()),
        **content,
    }
    if edited:
        message["edit_date"] = message["date"] + 5
    key = "edited_message" if edited else "message"
    return {"update_id": update_id or next(_update_ids), key: message}


def text_update(chat_id: int, text: str, **kw: Any) -> dict[str, Any]:
    return message_update(chat_id, text=text, **kw)


def start_update(chat_id: int, payload: str | None = None, **kw: Any) -> dict[str, Any]:
    """`/start PAYLOAD`, what a `t.me/<bot>?start=PAYLOAD` deep link sends."""
    text = "/start" if payload is None else f"/start {payload}"
    return message_update(
        chat_id, text=text, entities=[{"offset": 0, "length": 6, "type": "bot_command"}], **kw
    )


def contact_update(
    chat_id: int, phone: str, *, user_id: int | None = None, first_name: str | None = "Olena"
) -> dict[str, Any]:
    """A shared contact; `user_id` is present only for a Telegram user (own or another)."""
    contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
    if user_id is not None:
        contact["user_id"] = user_id
    return message_update(chat_id, contact=contact)


def edited_update(chat_id: int, text: str, **kw: Any) -> dict[str, Any]:
    return message_update(chat_id, text=text, edited=True, **kw)


def callback_update(
    chat_id: int,
    data: str,
    *,
    message_id: int = 1,
    keyboard: list[list[dict[str, Any]]] | None = None,
    update_id: int | None = None,
) -> dict[str, Any]:
    """A tap on an inline button of the bot's message `message_id`."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": {
            "id": 123456789,
            "is_bot": True,
            "first_name": "Omnirelay",
            "username": BOT_USERNAME,
        },
        "chat": _chat(chat_id),
        "date": int(time.time()) - 10,
        "text": "Choose",
        "reply_markup": {"inline_keyboard": keyboard or [[{"text": data, "callback_data": data}]]},
    }
    return {
        "update_id": update_id or next(_update_ids),
        "callback_query": {
            "id": str(4_382_000_000_000_000_000 + next(_update_ids)),
            "from": _user(chat_id),
            "message": message,
            "chat_instance": "-7398437598134",
            "data": data,
        },
    }


def my_chat_member_update(chat_id: int, *, blocked: bool) -> dict[str, Any]:
    """Block (`member`->`kicked`) or unblock (`kicked`->`member`) of the bot in a private chat."""
    bot = {"id": 123456789, "is_bot": True, "first_name": "Omnirelay", "username": BOT_USERNAME}
    member = {"user": bot, "status": "member"}
    kicked = {"user": bot, "status": "kicked", "until_date": 0}
    old, new = (member, kicked) if blocked else (kicked, member)
    return {
        "update_id": next(_update_ids),
        "my_chat_member": {
            "chat": _chat(chat_id),
            "from": _user(chat_id),
            "date": int(time.time()),
            "old_chat_member": old,
            "new_chat_member": new,
        },
    }


def poll_update() -> dict[str, Any]:
    """An update kind the gateway does not handle (a poll's state)."""
    return {
        "update_id": next(_update_ids),
        "poll": {
            "id": "5370000000000000001",
            "question": "Best time?",
            "options": [
                {"text": "Morning", "voter_count": 1},
                {"text": "Evening", "voter_count": 0},
            ],
            "total_voter_count": 1,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
        },
    }


# ---- standalone ------------------------------------------------------------------------------
