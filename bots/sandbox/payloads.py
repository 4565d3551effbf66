"""Platform payloads of one simulated person, built and signed the way each platform does.

A simulated person has one id (chosen by the simulator page); each platform sees that person
under its own kind of id, derived from it: a positive Telegram user id, a Viber user id with
the `+/=` characters real ones carry, and a numeric Instagram-scoped id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["text", "button", "postback", "contact", "open"]
DEFAULT_NAME = "Simulated customer"
CHANNELS = ("telegram", "viber", "instagram")


class PayloadError(ValueError):
    """The simulator was asked for something the platform cannot send."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(f"omnirelay-simulator:{key}".encode()).digest()


def default_phone(key: str) -> str:
    """The phone of a person who was given none: their own, derived from their id. One phone
    shared by every such person made each new person who shared it the previous one (a shared
    phone links accounts)."""
    return "+38050" + f"{int.from_bytes(_digest(key)[22:26], 'big') % 10**7:07d}"


@dataclass(frozen=True, slots=True)
class Person:
    """The simulated customer: one id, a name, a phone (their own unless given), a language."""

    key: str
    name: str = DEFAULT_NAME
    phone: str = ""  # "": `default_phone(key)`
    language: str = "uk"

    def __post_init__(self) -> None:
        if not self.phone:
            object.__setattr__(self, "phone", default_phone(self.key))

    def _digest(self) -> bytes:
        return _digest(self.key)

    @property
    def telegram_id(self) -> int:
        return 700_000_000 + int.from_bytes(self._digest()[:4], "big") % 100_000_000

    @property
    def viber_id(self) -> str:
        return base64.b64encode(self._digest()[4:15]).decode() + "="

    @property
    def instagram_id(self) -> str:
        return str(10**15 + int.from_bytes(self._digest()[15:22], "big") % (9 * 10**15))

    def user_id(self, channel: str) -> str:
        if channel == "telegram":
            return str(self.telegram_id)
        if channel == "viber":
            return self.viber_id
        if channel == "instagram":
            return self.instagram_id
        raise PayloadError(f"unknown channel {channel!r}")


@dataclass(frozen=True, slots=True)
class Request:
    """What the simulator page asks to send."""

    action: Action
    text: str | None = None
    payload: str | None = None  # Telegram callback_data, Instagram quick-reply payload
    tracking_data: str | None = None  # Viber: of the message whose keyboard was tapped
    message_id: int | None = None  # Telegram: the bot message whose inline button was tapped
    # Telegram: that message's text and inline keyboard, sent back in the callback as Telegram
    # does (the webhook reads the tapped button's title from it)
    message_text: str | None = None
    markup: dict[str, Any] | None = None
    context: str | None = None  # Viber `conversation_started` context / Instagram `ref`


@dataclass(frozen=True, slots=True)
class Signed:
    """A webhook request ready to POST: exact body bytes, headers, query string."""

    body: bytes
    headers: dict[str, str]
    query: str = ""


def _ms() -> int:
    return int(time.time() * 1000)


def _unique() -> int:
    return uuid.uuid4().int


# ---- Telegram ----------------------------------------------------------------------------------


def telegram_update(person: Person, req: Request, bot_id: int) -> dict[str, Any]:
    _no_postback(req, "Telegram")
    user = {
        "id": person.telegram_id,
        "is_bot": False,
        "first_name": person.name,
        "language_code": person.language,
    }
    chat = {"id": person.telegram_id, "type": "private", "first_name": person.name}
    update_id = _unique() % 2_000_000_000
    now = int(time.time())
    message: dict[str, Any] = {
        "message_id": _unique() % 1_000_000_000,
        "from": user,
        "chat": chat,
        "date": now,
    }
    if req.action == "button":
        if not req.payload:
            raise PayloadError("an inline button tap needs its callback_data")
        bot_message = {
            "message_id": req.message_id or 1,
            "from": {"id": bot_id, "is_bot": True, "first_name": "Omnirelay"},
            "chat": chat,
            "date": now,
            "text": req.message_text or "…",
        }
        if req.markup and "inline_keyboard" in req.markup:
            bot_message["reply_markup"] = {"inline_keyboard": req.markup["inline_keyboard"]}
        query = {
            "id": str(_unique() % 10**18),
            "from": user,
            "chat_instance": str(person.telegram_id * 7),
            "message": bot_message,
            "data": req.payload,
        }
        return {"update_id": update_id, "callback_query": query}
    if req.action == "contact":
        # The platform's own "share contact" button: user_id equals the sender's id.
        message["contact"] = {
            "phone_number": person.phone.lstrip("+"),
            "first_name": person.name,
            "user_id": person.telegram_id,
        }
    elif req.action == "open":
        message["text"] = f"/start {req.context}" if req.context else "/start"
    else:
        message["text"] = _need_text(req)
    return {"update_id": update_id, "message": message}


def sign_telegram(update: dict[str, Any], secret: str) -> Signed:
    body = json.dumps(update, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}
    return Signed(body, headers)


# ---- Viber -------------------------------------------------------------------------------------


def viber_callback(person: Person, req: Request) -> dict[str, Any]:
    _no_postback(req, "Viber")
    user = {
        "id": person.viber_id,
        "name": person.name,
        "avatar": None,
        "country": "UA",
        "language": person.language,
        "api_version": 10,
    }
    doc: dict[str, Any] = {
        "timestamp": _ms(),
        "chat_hostname": "SN-SANDBOX_",
        "message_token": 4_000_000_000_000_000_000 + _unique() % 10**18,
    }
    if req.action == "open":
        doc.update(event="conversation_started", type="open", user=user, subscribed=False)
        if req.context:
            doc["context"] = req.context
        return doc
    content: dict[str, Any]
    if req.action == "contact":
        contact = {"name": person.name, "phone_number": person.phone}
        content = {"type": "contact", "contact": contact}
    else:
        # A reply-button tap is an ordinary text message whose text is the ActionBody.
        content = {"type": "text", "text": _need_text(req)}
        if req.tracking_data:
            content["tracking_data"] = req.tracking_data
    doc.update(event="message", sender=user, message=content, silent=False)
    return doc


def sign_viber(doc: dict[str, Any], auth_token: str) -> Signed:
    """Compact UTF-8 JSON signed with hex HMAC-SHA256 of the body, in the header and `?sig=`."""
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    sig = hmac.new(auth_token.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Viber-Content-Signature": sig}
    return Signed(body, headers, f"?sig={sig}")


# ---- Instagram ---------------------------------------------------------------------------------


def instagram_event(person: Person, req: Request, account_id: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sender": {"id": person.instagram_id},
        "recipient": {"id": account_id},
        "timestamp": _ms(),
    }
    mid = base64.b64encode(f"ig_message_item:1:IGMessageThread:{_unique()}".encode()).decode()
    if req.action == "open":
        item["referral"] = {"ref": req.context or "", "source": "IGME_LINK", "type": "OPEN_THREAD"}
    elif req.action == "postback":
        # a button template's postback button: the title and payload, no message
        if not req.payload:
            raise PayloadError("a postback button tap needs its payload")
        item["postback"] = {"mid": mid, "title": _need_text(req), "payload": req.payload}
    elif req.action == "contact":
        # Instagram has no contact button: the customer types the phone.
        item["message"] = {"mid": mid, "text": person.phone}
    else:
        message: dict[str, Any] = {"mid": mid, "text": _need_text(req)}
        if req.action == "button":
            if not req.payload:
                raise PayloadError("a quick reply tap needs its payload")
            message["quick_reply"] = {"payload": req.payload}
        item["message"] = message
    entry = {"id": account_id, "time": _ms(), "messaging": [item]}
    return {"object": "instagram", "entry": [entry]}


def sign_instagram(doc: dict[str, Any], app_secret: str) -> Signed:
    """Meta's wire form (ASCII with lowercase \\u escapes, `\\/`), signed over those bytes."""
    body = json.dumps(doc, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()
    key = app_secret.encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
        "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
    }
    return Signed(body, headers)


def _no_postback(req: Request, platform: str) -> None:
    if req.action == "postback":
        raise PayloadError(f"{platform} has no postback buttons (Instagram's button template does)")


def _need_text(req: Request) -> str:
    text = (req.text or "").strip()
    if not text:
        raise PayloadError("the message needs text")
    if len(text) > 4096:
        raise PayloadError("the message is longer than 4096 characters")
    return text
