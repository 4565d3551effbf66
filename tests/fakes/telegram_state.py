"""What the fake Telegram Bot API knows (its webhook, the updates waiting for `getUpdates`, the
messages it sent) and the Bot API methods that read and change it. `tests.fakes.telegram`
serves them over HTTP, with the failures and holds a test scripts in front of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.telegram_protocol import TelegramApiError, check_markup
from tests.fakes.telegram_updates import BOT_USERNAME

# Canonical spelling of the methods the fake implements; lookups are case-insensitive.
METHODS = (
    "getMe",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "getUpdates",
    "sendMessage",
    "answerCallbackQuery",
    "editMessageReplyMarkup",
)
CANONICAL = {m.lower(): m for m in METHODS}


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    max_connections: int = 40


@dataclass
class BotState:
    """The fake's state for its bot ``tokens`` (the bot's id is the first token's)."""

    tokens: set[str]
    webhook: Webhook = field(default_factory=Webhook)
    updates: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[tuple[Any, Any], dict[str, Any]] = field(default_factory=dict)
    message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # a call or an update came
    closing: asyncio.Event = field(default_factory=asyncio.Event)  # ends long polls at once

    def method(self, name: str) -> Callable[[dict[str, Any]], Awaitable[Any]] | None:
        """The implementation of Bot API method ``name`` (any case), or None."""
        handler: Callable[[dict[str, Any]], Awaitable[Any]] | None = getattr(
            self, f"_m_{name.lower()}", None
        )
        return handler

    def bot_user(self) -> dict[str, Any]:
        bot_id = int(next(iter(self.tokens)).partition(":")[0])
        return {"id": bot_id, "is_bot": True, "first_name": "Omnirelay", "username": BOT_USERNAME}

    async def _m_getme(self, params: dict[str, Any]) -> Any:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_setwebhook(self, params: dict[str, Any]) -> Any:
        url = params.get("url")
        if url is None:
            raise TelegramApiError(400, "Bad Request: bad webhook: URL is empty")
        self.webhook = Webhook(
            url=str(url),
            secret_token=params.get("secret_token"),
            allowed_updates=params.get("allowed_updates"),
            max_connections=int(params.get("max_connections") or 40),
        )
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    async def _m_deletewebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = Webhook()
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        hook = self.webhook
        info: dict[str, Any] = {
            "url": hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if hook.url:
            info["max_connections"] = hook.max_connections
            if hook.allowed_updates is not None:
                info["allowed_updates"] = hook.allowed_updates
        return info

    async def _m_getupdates(self, params: dict[str, Any]) -> Any:
        if self.webhook.url:
            raise TelegramApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        if offset is not None:  # confirms (forgets) every update below the offset
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        limit = int(params.get("limit") or 100)
        wait = float(params.get("timeout") or 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not self.updates and not self.closing.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return self.updates[:limit]

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise TelegramApiError(400, "Bad Request: chat_id is empty")
        text = params.get("text")
        if not text or not str(text).strip():
            raise TelegramApiError(400, "Bad Request: message text is empty")
        if len(str(text).encode("utf-16-le")) // 2 > 4096:
            raise TelegramApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        check_markup(markup)
        message_id = next(self.message_ids)
        chat: dict[str, Any] = {"id": chat_id}
        if isinstance(chat_id, int) and chat_id > 0:
            chat.update(type="private", first_name="Customer")
        else:
            chat.update(type="supergroup", title="Chat")
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self.bot_user(),
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        # Like Telegram, only inline keyboards are echoed back in the Message.
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        self.messages[(chat_id, message_id)] = message
        return message

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> Any:
        if not params.get("callback_query_id"):
            raise TelegramApiError(400, "Bad Request: QUERY_ID_INVALID")
        return True

    async def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        markup = params.get("reply_markup")
        check_markup(markup)
        if params.get("inline_message_id"):
            return True
        key: tuple[Any, Any] = (params.get("chat_id"), params.get("message_id"))
        message = self.messages.get(key)
        if message is None:
            raise TelegramApiError(400, "Bad Request: message to edit not found")
        message = dict(message, edit_date=int(time.time()))
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        self.messages[key] = message
        return message
