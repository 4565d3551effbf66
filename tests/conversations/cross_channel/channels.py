"""One person's identity on each platform: correctly signed webhook payloads through the app's
real routes, and the replies the channel adapters sent to the platforms' fake APIs.

A driver never waits: `post_*` returns what the webhook answered (and the platform id of the
message, so the runner can tell when its turn is done); `messages` reads what the fake API
recorded for the identity so far.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from bots.channels.viber_render import DEFAULT_PAYLOAD_PREFIX
from tests.bots.conftest import IG_APP_SECRET, TG_SECRET, VIBER_TOKEN, new_chat_id
from tests.conversations.runner import ScriptFailure
from tests.fakes import instagram as ig
from tests.fakes import viber as vb
from tests.fakes.instagram import FakeInstagram
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_updates import callback_update, contact_update, start_update, text_update
from tests.fakes.viber import FakeViber

CHANNELS = ("telegram", "viber", "instagram", "rest")
Client = TestClient[web.Request, web.Application]
_ig_times = itertools.count()


@dataclass
class Identity:
    """A person on one channel: the platform's user id plus what the platform tells about them."""

    channel: str
    external_id: str
    language: str
    name: str
    viber_user: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BotMessage:
    """One message the bot sent, as the platform received it; buttons as dicts with `title`,
    `payload`, `kind` and whatever a tap on them needs to send back."""

    text: str
    buttons: list[dict[str, Any]]


@dataclass(frozen=True)
class Posted:
    """A webhook accepted: the platform id of the inbound message (None for an event such as
    Viber's conversation_started), and any reply in the HTTP answer itself."""

    message_id: str | None
    inline: list[BotMessage] = field(default_factory=list)


class Fakes:
    """The three fake platform APIs of one running app."""

    def __init__(self, telegram: FakeTelegram, viber: FakeViber, instagram: FakeInstagram):
        self.telegram, self.viber, self.instagram = telegram, viber, instagram


class Drivers:
    """Builds and posts each channel's payloads; reads each fake's record of the bot's sends."""

    def __init__(self, client: Client, fakes: Fakes, clock: Callable[[], datetime]) -> None:
        self.client = client
        self.fakes = fakes
        self.clock = clock  # the bot's "now": platform timestamps follow it (messaging windows)
        self._rest: dict[str, list[BotMessage]] = {}

    # ---- identities -----------------------------------------------------------------------

    @staticmethod
    def new_identity(channel: str, language: str, name: str) -> Identity:
        if channel == "telegram":
            return Identity(channel, str(new_chat_id()), language, name)
        if channel == "viber":
            user = vb.user(uuid.uuid4().hex[:16] + "+/A==", name=name, language=language)
            return Identity(channel, user["id"], language, name, viber_user=user)
        if channel == "instagram":
            return Identity(channel, str(10**15 + uuid.uuid4().int % 10**15), language, name)
        if channel == "rest":
            return Identity(channel, f"rest-{uuid.uuid4().hex[:10]}", language, name)
        raise ScriptFailure(f"unknown channel {channel!r}; use one of {CHANNELS}")

    # ---- inbound ---------------------------------------------------------------------------

    async def say(self, who: Identity, text: str) -> Posted:
        if who.channel == "telegram":
            return await self._telegram(who, text_update(int(who.external_id), text))
        if who.channel == "viber":
            return await self._viber(vb.text_message(text, sender=who.viber_user))
        if who.channel == "instagram":
            return await self._instagram(ig.message(text, sender=who.external_id))
        return await self._post_rest(who, {"text": text})

    async def tap(self, who: Identity, button: dict[str, Any]) -> Posted:
        """A tap on a button the bot showed: what the platform sends for that kind of button."""
        kind = button.get("kind")
        if kind == "contact" or kind == "share-phone":
            raise ScriptFailure("a share-phone button is tapped with `contact: PHONE`")
        if kind == "url":
            raise ScriptFailure("a link button opens another app: use `open: CODE` there")
        if who.channel == "telegram":
            if kind == "reply":  # a reply-keyboard button sends its title as text
                return await self.say(who, button["title"])
            update = callback_update(
                int(who.external_id),
                button["payload"],
                message_id=button.get("message_id", 1),
                keyboard=button.get("keyboard"),
            )
            _language(update["callback_query"]["from"], who)
            return await self._telegram(who, update, language_set=True)
        if who.channel == "viber":
            doc = vb.text_message(
                button["action_body"],
                sender=who.viber_user,
                tracking_data=button.get("tracking_data"),
            )
            return await self._viber(doc)
        if who.channel == "instagram" and kind == "postback":
            postback = {"mid": ig.new_mid(), "title": button["title"], "payload": button["payload"]}
            doc = ig.item("postback", postback, sender=who.external_id)
            return await self._instagram(doc, key="postback")
        if who.channel == "instagram":
            doc = ig.message(
                button["title"], sender=who.external_id, quick_reply={"payload": button["payload"]}
            )
            return await self._instagram(doc)
        return await self._post_rest(who, {"payload": button["payload"]})

    async def payload(self, who: Identity, payload: str, title: str | None = None) -> Posted:
        """A button payload sent directly (a button the script knows rather than one shown)."""
        button = {
            "title": title or payload,
            "payload": payload,
            "action_body": DEFAULT_PAYLOAD_PREFIX + payload,
            "kind": "inline",
            "keyboard": [[{"text": title or payload, "callback_data": payload}]],
        }
        return await self.tap(who, button)

    async def contact(self, who: Identity, phone: str) -> Posted:
        """The platform's own share-phone: Telegram contact with the sender's user_id, Viber
        contact message."""
        if who.channel == "telegram":
            chat = int(who.external_id)
            update = contact_update(chat, phone.lstrip("+"), user_id=chat, first_name=who.name)
            return await self._telegram(who, update)
        if who.channel == "viber":
            content = {"type": "contact", "contact": {"name": who.name, "phone_number": phone}}
            return await self._viber(vb.message(content, sender=who.viber_user))
        raise ScriptFailure(f"{who.channel} has no share-phone button")

    async def open_link(self, who: Identity, code: str) -> Posted:
        """A "continue in ..." deep link opened: Telegram `/start CODE`, Viber
        conversation_started with `context`, Instagram referral with `ref`."""
        if who.channel == "telegram":
            return await self._telegram(who, start_update(int(who.external_id), code))
        if who.channel == "viber":
            return await self._viber(vb.conversation_started(context=code, user=who.viber_user))
        if who.channel == "instagram":
            ref = {"ref": code, "source": "IGME_LINK", "type": "OPEN_THREAD"}
            doc = ig.item("referral", ref, sender=who.external_id)
            return await self._instagram(doc, event=True)
        raise ScriptFailure("the REST channel has no deep links")

    # ---- posting, signed as each platform signs ---------------------------------------------

    async def _telegram(
        self, who: Identity, update: dict[str, Any], *, language_set: bool = False
    ) -> Posted:
        if not language_set:
            _language(update["message"]["from"], who)
            update["message"]["date"] = int(self.clock().timestamp())
        headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        resp = await self.client.post("/webhooks/telegram", json=update, headers=headers)
        await _accepted(resp, "telegram")
        return Posted(str(update["update_id"]))

    async def _viber(self, doc: dict[str, Any]) -> Posted:
        doc["timestamp"] = self._ms()
        signed = vb.sign_callback(VIBER_TOKEN, doc)
        resp = await self.client.post(
            "/webhooks/viber" + signed.query, data=signed.body, headers=signed.headers
        )
        await _accepted(resp, "viber")
        answer = await resp.json()
        if doc["event"] != "message":
            welcome = [BotMessage(answer["text"], [])] if answer.get("text") else []
            return Posted(None, welcome)
        return Posted(str(doc["message_token"]))

    def _ms(self) -> int:
        return int(self.clock().timestamp() * 1000)

    async def _instagram(
        self, item: dict[str, Any], *, event: bool = False, key: str = "message"
    ) -> Posted:
        item["timestamp"] = self._ms() + next(_ig_times)  # distinct: referral event ids
        signed = ig.sign(IG_APP_SECRET, ig.body(ig.entry(item)))
        resp = await self.client.post(
            "/webhooks/instagram", data=signed.body, headers=signed.headers
        )
        await _accepted(resp, "instagram")
        return Posted(None if event else str(item[key]["mid"]))

    async def _post_rest(self, who: Identity, body: dict[str, Any]) -> Posted:
        body = {"sender": who.external_id, "language": who.language, **body}
        resp = await self.client.post("/webhooks/rest", json=body)
        await _accepted(resp, "rest")
        doc = await resp.json()
        got = [
            BotMessage(
                r["text"],
                [{**b, "kind": "rest"} for b in r.get("buttons") or []],
            )
            for r in doc["replies"]
        ]
        self._rest.setdefault(who.external_id, []).extend(got)
        return Posted(None)

    # ---- what the bot sent ------------------------------------------------------------------

    def messages(self, who: Identity) -> list[BotMessage]:
        """Everything the bot sent to this identity so far, oldest first."""
        if who.channel == "telegram":
            return self._telegram_messages(who)
        if who.channel == "viber":
            return [
                _viber_message(b)
                for b in self.fakes.viber.sent()
                if b.get("receiver") == who.external_id
            ]
        if who.channel == "instagram":
            return [
                _instagram_message(b)
                for b in self.fakes.instagram.sent()
                if b["recipient"]["id"] == who.external_id
            ]
        return list(self._rest.get(who.external_id, []))

    def _telegram_messages(self, who: Identity) -> list[BotMessage]:
        fake = self.fakes.telegram
        stored = [
            (mid, m)
            for (chat, mid), m in fake.state.messages.items()
            if str(chat) == who.external_id
        ]
        out = []
        for params in fake.sent_messages(chat_id=who.external_id):
            markup = params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            buttons: list[dict[str, Any]] = []
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                keyboard = markup["inline_keyboard"]
                # the Message Telegram stored for this send: a tap refers to it
                mid = max(
                    (
                        i
                        for i, m in stored
                        if m.get("reply_markup", {}).get("inline_keyboard") == keyboard
                    ),
                    default=1,
                )
                buttons = [
                    {
                        "title": b["text"],
                        "payload": b.get("callback_data"),
                        "kind": "url" if b.get("url") else "inline",
                        "url": b.get("url"),
                        "keyboard": keyboard,
                        "message_id": mid,
                    }
                    for row in keyboard
                    for b in row
                ]
            elif isinstance(markup, dict) and "keyboard" in markup:
                buttons = [
                    {
                        "title": b["text"],
                        "payload": None,
                        "kind": "contact" if b.get("request_contact") else "reply",
                    }
                    for row in markup["keyboard"]
                    for b in row
                ]
            out.append(BotMessage(str(params.get("text", "")), buttons))
        return out


def _language(user: dict[str, Any], who: Identity) -> None:
    """The platform user's language and name, as Telegram would report them."""
    user["language_code"] = who.language
    user["first_name"] = who.name


def _viber_message(body: dict[str, Any]) -> BotMessage:
    keyboard = body.get("keyboard") or {}
    buttons = [
        {
            "title": b.get("Text", ""),
            "payload": str(b.get("ActionBody", "")).removeprefix(DEFAULT_PAYLOAD_PREFIX),
            "action_body": b.get("ActionBody", ""),
            "kind": "url" if b.get("ActionType") == "open-url" else b.get("ActionType"),
            "url": b.get("ActionBody") if b.get("ActionType") == "open-url" else None,
            "tracking_data": body.get("tracking_data"),
        }
        for b in keyboard.get("Buttons") or []
    ]
    return BotMessage(str(body.get("text") or body.get("media") or ""), buttons)


def _instagram_message(body: dict[str, Any]) -> BotMessage:
    message = body.get("message") or {}
    buttons = [
        {"title": q.get("title", ""), "payload": q.get("payload"), "kind": "quick_reply"}
        for q in message.get("quick_replies") or []
    ]
    text = str(message.get("text") or "")
    payload = (message.get("attachment") or {}).get("payload") or {}
    if payload.get("template_type") == "button":  # a button template: text and buttons
        text = str(payload.get("text") or "")
        buttons += [
            {
                "title": b.get("title", ""),
                "payload": b.get("payload"),
                "url": b.get("url"),
                "kind": "url" if b.get("type") == "web_url" else "postback",
            }
            for b in payload.get("buttons") or []
        ]
    return BotMessage(text, buttons)


async def _accepted(resp: Any, channel: str) -> None:
    if resp.status != 200:
        raise ScriptFailure(f"{channel} webhook answered {resp.status}: {await resp.text()}")
