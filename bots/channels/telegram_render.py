"""OutboundMessage -> Telegram sendMessage calls, and aiogram errors -> ours."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from aiogram.exceptions import (
    AiogramError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bots.channels.base import ChannelLimits, fit_buttons, links_in_text, split_text
from bots.channels.errors import (
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    SendError,
    TransientSendError,
)
from bots.messages import Button, OutboundMessage

MAX_CALLBACK_DATA = 64  # bytes, Bot API limit for InlineKeyboardButton.callback_data
HASHED_PREFIX = "~h:"  # marks callback_data that is a digest of a longer payload
DEFAULT_PHONE_BUTTON = "📱 Share my phone number"
LINK_SCHEMES = ("https://", "http://", "tg://")  # what an inline keyboard's url may open

LIMITS = ChannelLimits(
    max_text=4096,
    # Inline keyboards take up to 100 buttons, but more than 8 one-per-row buttons stop being
    # readable on a phone; the surplus becomes a numbered list (fit_buttons).
    max_buttons=8,
    max_button_title=64,
    max_payload_bytes=MAX_CALLBACK_DATA,
    per_chat_rate=1.0,
    global_rate=30.0,
)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
# Where the text of a message that must both take the share-phone keyboard away and show inline
# buttons is cut in two (one markup per message): its last line, else its last sentence.
_LAST_SENTENCE = re.compile(r"(?<=[.!?:])\s+(?=\S[^.!?]*[.!?]?\s*$)")
POINTER = "👇"  # the buttons' own message when the text cannot be cut


@dataclass(frozen=True, slots=True)
class Rendered:
    """The sendMessage calls one OutboundMessage becomes; the markup goes on the last part,
    ``first_markup`` on the first one (the share-phone keyboard taken away)."""

    parts: list[str]
    markup: Markup | None
    first_markup: Markup | None = None


def callback_data(payload: str) -> str:
    """`payload` if it fits Telegram's 64-byte callback_data, else a deterministic digest.

    The digest (`~h:` + 22 chars of base64url SHA-256) cannot be reversed without storage,
    which sender and webhook (different processes) do not share; when it comes back, the parser
    substitutes the tapped button's title, read from the keyboard Telegram echoes with the
    callback. Flows should keep payloads within `LIMITS.max_payload_bytes`.
    """
    if 1 <= len(payload.encode()) <= MAX_CALLBACK_DATA and not payload.startswith(HASHED_PREFIX):
        return payload
    digest = hashlib.sha256(payload.encode()).digest()
    return HASHED_PREFIX + base64.urlsafe_b64encode(digest).decode()[:22]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_for_telegram(text: str, max_len: int = LIMITS.max_text) -> list[str]:
    """Split at `max_len` characters; re-split any part whose UTF-16 length (which is how
    Telegram counts, emoji outside the BMP being two) still exceeds the limit."""
    parts: list[str] = []
    for part in split_text(text, max_len):
        if _utf16_len(part) > max_len:
            parts.extend(split_text(part, max_len // 2))
        else:
            parts.append(part)
    return parts


def render(message: OutboundMessage, limits: ChannelLimits = LIMITS) -> Rendered:
    """Render text, buttons and the phone request within Telegram's limits."""
    text = message.text
    if message.attachment is not None and message.attachment.url:
        # No media sending yet: a link still lets Telegram show a preview.
        text = f"{text}\n{message.attachment.url}" if text else message.attachment.url
    text, buttons = fit_buttons(text, message.buttons, limits)
    # A reply keyboard (the phone request) cannot hold link buttons, and inline link buttons
    # take only http(s) and tg:// addresses (a viber:// deep link is BUTTON_URL_INVALID):
    # those links go in the text.
    in_text = [
        b for b in buttons if b.url is not None and (message.request_phone or not _linkable(b.url))
    ]
    text = links_in_text(text, in_text)
    buttons = [b for b in buttons if b not in in_text]
    if not text.strip():
        raise PermanentSendError("telegram: cannot send a message without text")
    markup: Markup | None
    if message.request_phone:
        markup = _phone_keyboard(buttons, message.phone_label)
    elif buttons:
        markup = InlineKeyboardMarkup(inline_keyboard=[[_inline(b)] for b in buttons])
    else:
        markup = None
    parts = split_for_telegram(text, limits.max_text)
    if not message.close_phone_request or message.request_phone:
        return Rendered(parts=parts, markup=markup)
    # The reply keyboard of an earlier phone request stays on screen until a message takes it
    # away (a one-time keyboard only hides once it is used: trial 3, T3, the phone typed
    # instead). One message cannot carry both that and inline buttons: the text is cut in two.
    removal = ReplyKeyboardRemove(remove_keyboard=True)
    if markup is None:
        return Rendered(parts=parts, markup=removal)
    if len(parts) == 1:
        parts = _cut(parts[0])
    return Rendered(parts=parts, markup=markup, first_markup=removal)


def _cut(text: str) -> list[str]:
    """``text`` in two messages: all but its last line (or sentence), and that line; the text
    and `POINTER` when it is one sentence."""
    text = text.strip()
    head, _, tail = text.rpartition("\n")
    if head.strip() and tail.strip():
        return [head.rstrip(), tail.strip()]
    pieces = _LAST_SENTENCE.split(text, maxsplit=1)
    return [pieces[0], pieces[1]] if len(pieces) == 2 else [text, POINTER]


def _linkable(url: str) -> bool:
    """Can an inline keyboard button open this address? (Bot API: "HTTP or tg:// URL")"""
    return url.lower().startswith(LINK_SCHEMES)


def _inline(button: Button) -> InlineKeyboardButton:
    if button.url is not None:
        return InlineKeyboardButton(text=button.title, url=button.url)
    return InlineKeyboardButton(text=button.title, callback_data=callback_data(button.payload))


def _phone_keyboard(buttons: list[Button], label: str | None) -> ReplyKeyboardMarkup:
    """A one-time reply keyboard whose first button shares the user's own contact.

    Telegram cannot mix inline and reply keyboards in one message, so the buttons become plain
    reply buttons, which send their title as text, matched by the flow like a typed answer.
    The contact button is titled by the message's `phone_label` (the flow's template, in the
    customer's language); without one, by the first button, if any, else a default.
    """
    if label is None and buttons:
        label, buttons = buttons[0].title, buttons[1:]
    rows = [[KeyboardButton(text=label or DEFAULT_PHONE_BUTTON, request_contact=True)]]
    rows += [[KeyboardButton(text=b.title)] for b in buttons]
    return ReplyKeyboardMarkup(keyboard=rows, one_time_keyboard=True, resize_keyboard=True)


_RETRY_AFTER = re.compile(r"retry after (\d+)", re.IGNORECASE)


def map_error(e: AiogramError) -> SendError:
    """Our error for an aiogram one (the caller raises it `from e`).

    aiogram classifies by HTTP status, except that a 429 without `parameters.retry_after`
    becomes a plain TelegramAPIError; the description ("Too Many Requests[: retry after N]")
    is all that is left of it, and N is used when present.
    """
    text = f"telegram: {e}"
    if isinstance(e, TelegramRetryAfter):
        return RateLimited(text, retry_after=float(e.retry_after))
    if isinstance(e, TelegramForbiddenError):
        return RecipientUnreachable(text)
    if isinstance(e, TelegramEntityTooLarge):  # a TelegramNetworkError, but not transient
        return PermanentSendError(text)
    if isinstance(e, TelegramServerError | TelegramNetworkError):
        return TransientSendError(text)
    if isinstance(e, TelegramBadRequest):
        return PermanentSendError(text)
    if isinstance(e, TelegramAPIError) and e.message.lower().startswith("too many requests"):
        match = _RETRY_AFTER.search(e.message)
        return RateLimited(text, retry_after=float(match.group(1)) if match else None)
    if isinstance(e, TelegramAPIError):
        return PermanentSendError(text)  # 401 token, 404, 409, migrated chat
    # ClientDecodeError: an answer that is not the Bot API's JSON (a proxy's error page).
    return TransientSendError(text)
