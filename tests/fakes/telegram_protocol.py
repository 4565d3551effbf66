"""The Telegram Bot API's wire rules that the fake enforces: how parameters arrive (query,
JSON, urlencoded or multipart, with JSON-encoded and coerced fields), the error envelope's
exception, and what Telegram refuses in reply markup."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

# Fields that arrive as JSON strings in query/form bodies, and fields Telegram coerces to ints.
JSON_FIELDS = {
    "reply_markup",
    "allowed_updates",
    "entities",
    "link_preview_options",
    "reply_parameters",
}
INT_FIELDS = {"message_id", "offset", "limit", "timeout", "max_connections", "cache_time"}
BOOL_FIELDS = {"drop_pending_updates", "show_alert", "disable_notification", "protect_content"}

ERROR_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class TelegramApiError(Exception):
    """Raised inside the fake to answer with a Telegram error envelope."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def check_markup(markup: Any) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise TelegramApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard") or ():
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise TelegramApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            url = button.get("url")
            # "HTTP or tg:// URL": another scheme (viber://) is refused, as Telegram does
            if url is not None and not str(url).lower().startswith(
                ("http://", "https://", "tg://")
            ):
                raise TelegramApiError(400, "Bad Request: BUTTON_URL_INVALID")
            if (data is None) == (url is None):
                raise TelegramApiError(400, "Bad Request: BUTTON_TYPE_INVALID")


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    ctype = request.content_type
    if request.method == "POST" and request.can_read_body:
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError as e:
                raise TelegramApiError(400, "Bad Request: can't parse JSON") from e
            if not isinstance(body, dict):
                raise TelegramApiError(400, "Bad Request: can't parse JSON")
            return {**params, **body}
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return {k: coerce(k, v) for k, v in params.items()}


def coerce(key: str, value: str) -> Any:
    """Form/query values are strings; turn them into what Telegram would read."""
    if key in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError as e:
            raise TelegramApiError(400, f"Bad Request: can't parse {key} JSON object") from e
    if key == "chat_id" or key in INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value  # "@channelusername"
    if key in BOOL_FIELDS:
        return value.lower() in ("true", "1")
    return value
