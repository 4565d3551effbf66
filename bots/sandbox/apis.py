"""The sandboxed platform APIs, as one aiohttp sub-application mounted at `SANDBOX_PREFIX`.

- `{prefix}/telegram/bot<token>/<method>`: the Bot API (JSON, urlencoded or multipart
  parameters; `{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description"}`
  with the HTTP status equal to the code).
- `{prefix}/viber/pa/<method>`: the Viber REST API (always HTTP 200; `status` 0 or an error).
- `{prefix}/instagram/<version>/<account or me>/messages`: the Send API (`recipient_id` and
  `message_id`, or a Graph `error` object).
"""

from __future__ import annotations

import hmac
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bots.sandbox.log import SandboxLog

SANDBOX_PREFIX = "/sandbox"
SANDBOX_BOT_USERNAME = "omnirelay_sandbox_bot"  # getMe's username, and the t.me/<bot> links
_LOG = web.AppKey("sandbox_log", SandboxLog)
_CREDENTIALS: web.AppKey[SandboxCredentials] = web.AppKey("sandbox_credentials")
_COUNTERS: web.AppKey[dict[str, itertools.count[int]]] = web.AppKey("sandbox_counters")
# Viber message tokens are 64-bit and above 2**53, as real ones are.
_FIRST_VIBER_TOKEN = 5_741_311_803_571_720_000
_TELEGRAM_MESSAGE_METHODS = {
    "sendmessage": "text",
    "sendphoto": "caption",
    "senddocument": "caption",
    "sendvideo": "caption",
    "sendlocation": None,
}
_TELEGRAM_TRUE_METHODS = {
    "answercallbackquery",
    "setwebhook",
    "deletewebhook",
    "editmessagereplymarkup",
    "setmycommands",
}


@dataclass(frozen=True, slots=True)
class SandboxCredentials:
    """What the sandboxed platforms accept: the tokens the simulator configured."""

    telegram_token: str
    viber_token: str
    instagram_access_token: str
    instagram_account_id: str


def sandbox_app(log: SandboxLog, credentials: SandboxCredentials) -> web.Application:
    """The sub-application; mount it with `app.add_subapp(SANDBOX_PREFIX, ...)`."""
    app = web.Application()
    app[_LOG] = log
    app[_CREDENTIALS] = credentials
    app[_COUNTERS] = {
        "telegram": itertools.count(1),
        "viber": itertools.count(_FIRST_VIBER_TOKEN),
        "instagram": itertools.count(1),
    }
    app.router.add_route("*", "/telegram/bot{token}/{method}", _telegram)
    app.router.add_post("/viber/pa/{method}", _viber)
    app.router.add_post("/instagram/{version}/{account}/messages", _instagram)
    return app


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


# ---- Telegram ----------------------------------------------------------------------------------


class _TelegramError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


async def _telegram(request: web.Request) -> web.Response:
    credentials = request.app[_CREDENTIALS]
    method = request.match_info["method"].lower()
    try:
        if not _same(request.match_info["token"], credentials.telegram_token):
            raise _TelegramError(401, "Unauthorized")
        params = await _telegram_params(request)
        result = _telegram_call(request.app, method, params)
    except _TelegramError as e:
        body = {"ok": False, "error_code": e.code, "description": e.description}
        return web.json_response(body, status=e.code)
    return web.json_response({"ok": True, "result": result})


async def _telegram_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as e:
                raise _TelegramError(400, "Bad Request: can't parse JSON") from e
            if not isinstance(body, dict):
                raise _TelegramError(400, "Bad Request: can't parse JSON")
            params.update(body)
        else:  # aiogram sends form data; nested objects arrive as JSON strings
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        try:
            params["reply_markup"] = json.loads(markup)
        except ValueError as e:
            raise _TelegramError(400, "Bad Request: can't parse reply keyboard markup") from e
    return params


def _telegram_call(app: web.Application, method: str, params: dict[str, Any]) -> Any:
    if method == "getme":
        return _telegram_bot(app)
    if method in _TELEGRAM_TRUE_METHODS:
        return True
    if method == "getwebhookinfo":
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
    if method not in _TELEGRAM_MESSAGE_METHODS:
        raise _TelegramError(404, "Not Found")
    chat_id = params.get("chat_id")
    if chat_id in (None, ""):
        raise _TelegramError(400, "Bad Request: chat_id is empty")
    text_field = _TELEGRAM_MESSAGE_METHODS[method]
    text = params.get(text_field) if text_field else None
    if method == "sendmessage" and not str(text or "").strip():
        raise _TelegramError(400, "Bad Request: message text is empty")
    if method == "sendlocation":
        text = f"📍 {params.get('latitude')}, {params.get('longitude')}"
    elif method != "sendmessage":
        url = params.get(method.removeprefix("send"))
        text = "\n".join(str(p) for p in (text, url) if p)
    message_id = next(app[_COUNTERS]["telegram"])
    markup = params.get("reply_markup")
    app[_LOG].record(
        "telegram", str(chat_id), text, markup=markup, extra={"message_id": message_id}
    )
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": _telegram_bot(app),
        "chat": {"id": int(chat_id), "type": "private", "first_name": "Customer"},
        "date": int(time.time()),
    }
    if text is not None:
        message["text"] = text
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        message["reply_markup"] = markup  # only inline keyboards are echoed back
    return message


def _telegram_bot(app: web.Application) -> dict[str, Any]:
    bot_id = int(app[_CREDENTIALS].telegram_token.partition(":")[0])
    return {
        "id": bot_id,
        "is_bot": True,
        "first_name": "Omnirelay",
        "username": SANDBOX_BOT_USERNAME,
    }


# ---- Viber -------------------------------------------------------------------------------------


async def _viber(request: web.Request) -> web.Response:
    method = request.match_info["method"]
    try:
        body = json.loads(await request.read())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _viber_answer(3, "badData")
    token = request.headers.get("X-Viber-Auth-Token") or body.get("auth_token")
    if not _same(token, request.app[_CREDENTIALS].viber_token):
        return _viber_answer(2, "invalidAuthToken")
    if method in ("set_webhook", "get_account_info"):
        return _viber_answer(0, "ok", {"event_types": body.get("event_types") or []})
    if method != "send_message":
        return _viber_answer(3, f"badData: unknown method {method}")
    receiver = body.get("receiver")
    sender = body.get("sender")
    if not receiver or not isinstance(sender, dict) or not sender.get("name"):
        return _viber_answer(4, "missingData: receiver and sender.name are required")
    text = viber_text(body)
    if text is None:
        return _viber_answer(3, f"badData: type {body.get('type')!r}")
    token_value = next(request.app[_COUNTERS]["viber"])
    request.app[_LOG].record(
        "viber",
        str(receiver),
        text,
        markup=body.get("keyboard"),
        extra={"tracking_data": body.get("tracking_data"), "message_token": token_value},
    )
    return _viber_answer(0, "ok", {"message_token": token_value, "chat_hostname": "SANDBOX"})


def viber_text(body: dict[str, Any]) -> str | None:
    """What a Viber user would see of a send_message body, as text."""
    kind = body.get("type")
    if kind == "text":
        return str(body.get("text") or "")
    if kind in ("picture", "video", "file", "url"):
        caption = body.get("text") or ""
        return f"{caption}\n{body.get('media')}".strip()
    if kind == "location":
        loc = body.get("location") or {}
        return f"📍 {loc.get('lat')}, {loc.get('lon')}"
    return None


def _viber_answer(status: int, message: str, extra: dict[str, Any] | None = None) -> web.Response:
    doc: dict[str, Any] = {"status": status, "status_message": message}
    if status == 0:
        doc.update(extra or {})
    return web.json_response(doc)  # Viber answers 200 even on failure


# ---- Instagram ---------------------------------------------------------------------------------


def _graph_error(status: int, code: int, message: str) -> web.Response:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "SANDBOX"}
    return web.json_response({"error": error}, status=status)


async def _instagram(request: web.Request) -> web.Response:
    credentials = request.app[_CREDENTIALS]
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    token = bearer if scheme.lower() == "bearer" else request.query.get("access_token")
    if not _same(token, credentials.instagram_access_token):
        return _graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")
    if request.match_info["account"] not in (credentials.instagram_account_id, "me"):
        return _graph_error(400, 100, "(#100) Unsupported post request.")
    try:
        body = json.loads(await request.read())
    except ValueError:
        body = None
    recipient = body.get("recipient") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(recipient, dict) or not recipient.get("id") or not isinstance(message, dict):
        return _graph_error(400, 100, "(#100) The parameter recipient and message are required")
    text = message.get("text")
    attachment = message.get("attachment")
    markup = message.get("quick_replies")
    template = _button_template(attachment)
    if template is not None:
        # a button template: its text, and its buttons as the markup (web_url / postback)
        text, markup = template.get("text"), template
    elif not text and isinstance(attachment, dict):
        text = str((attachment.get("payload") or {}).get("url") or attachment.get("type"))
    if not text:
        return _graph_error(400, 100, "(#100) The parameter message[text] is required")
    mid = f"sandbox-mid-{next(request.app[_COUNTERS]['instagram'])}"
    request.app[_LOG].record(
        "instagram",
        str(recipient["id"]),
        text,
        markup=markup,
        extra={"messaging_type": body.get("messaging_type"), "tag": body.get("tag")},
    )
    return web.json_response({"recipient_id": str(recipient["id"]), "message_id": mid})


def _button_template(attachment: Any) -> dict[str, Any] | None:
    """The payload of a `template` attachment with `template_type: button`, else None."""
    if not isinstance(attachment, dict) or attachment.get("type") != "template":
        return None
    payload = attachment.get("payload")
    if isinstance(payload, dict) and payload.get("template_type") == "button":
        return payload
    return None
