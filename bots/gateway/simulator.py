"""The simulator: chat as one person on a Telegram, a Viber and an Instagram tab (`GET /`).

Every message a tab sends goes the whole real way: `POST /simulator/{channel}/send` builds the
platform's own payload (a Telegram update, a Viber callback, an Instagram webhook event), signs
it with the configured secrets, and POSTs it over HTTP to the channel's real webhook route on
this same server. The channel adapters send their replies to in-process sandboxes of the
platform APIs (`bots.sandbox`), which record them; the page long-polls
`GET /simulator/{channel}/updates` and renders them as that platform would.

`OMNIRELAY_SIMULATOR` turns it on; `omnirelay run` turns it on by itself when no platform token
is configured. It runs only in the one-process role, whose channels it points at the sandbox.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bots.config import Settings, secret
from bots.keys import DATABASE
from bots.local_files import beside_database
from bots.sandbox import SANDBOX_PREFIX, SandboxCredentials, SandboxLog, sandbox_app
from bots.sandbox.apis import SANDBOX_BOT_USERNAME, viber_text
from bots.sandbox.payloads import (
    CHANNELS,
    DEFAULT_NAME,
    PayloadError,
    Person,
    Request,
    instagram_event,
    sign_instagram,
    sign_telegram,
    sign_viber,
    telegram_update,
    viber_callback,
)
from handoff.transcript_lines import shown_lines
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository

log = logging.getLogger(__name__)

SANDBOX_LOG = web.AppKey("sandbox_log", SandboxLog)
_CLIENT = web.AppKey("simulator_client", aiohttp.ClientSession)
_SETTINGS = web.AppKey("simulator_settings", Settings)

# Sandbox credentials: the channels and the sandbox agree on them; they open nothing real.
TELEGRAM_TOKEN = "123456789:SANDBOX-simulator-token_0123456789abcd"
TELEGRAM_SECRET = "simulator-webhook-secret"
VIBER_TOKEN = "sandbox-viber-auth-token-0123456789"
INSTAGRAM_APP_SECRET = "sandbox-instagram-app-secret"
INSTAGRAM_VERIFY_TOKEN = "sandbox-verify-token"
INSTAGRAM_ACCESS_TOKEN = "sandbox-instagram-access-token"
INSTAGRAM_ACCOUNT_ID = "17841400000000000"
INSTAGRAM_VERSION = "v21.0"
# Where the "continue in ..." link buttons point: the page opens these deep links on its tabs.
TELEGRAM_BOT_USERNAME = SANDBOX_BOT_USERNAME
VIBER_CHAT_URI = "omnirelay-sandbox"
INSTAGRAM_USERNAME = "omnirelay.sandbox"

_PERSON_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{7,20}$")
_ACTIONS = ("text", "button", "postback", "contact", "open")
MAX_WAIT = 25.0


def wants_simulator(settings: Settings) -> bool:
    """`OMNIRELAY_SIMULATOR` if set; otherwise on exactly when no platform token is set."""
    if settings.simulator is not None:
        return settings.simulator
    return (
        settings.telegram_token is None
        and settings.viber_token is None
        and settings.instagram_app_secret is None
    )


def simulator_settings(settings: Settings) -> Settings:
    """`settings` with every platform channel aimed at this server's sandbox."""
    if settings.telegram_token or settings.viber_token or settings.instagram_app_secret:
        log.warning("simulator on: the configured platform tokens are replaced by sandbox ones")
    host = settings.host
    if host in ("0.0.0.0", "", "*"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    base = f"http://{host}:{settings.port}{SANDBOX_PREFIX}"
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(TELEGRAM_TOKEN),
            "telegram_webhook_secret": SecretStr(TELEGRAM_SECRET),
            "telegram_api_base": f"{base}/telegram",
            "telegram_mode": "webhook",
            "viber_token": SecretStr(VIBER_TOKEN),
            "viber_api_base": f"{base}/viber/pa",
            "instagram_app_secret": SecretStr(INSTAGRAM_APP_SECRET),
            "instagram_verify_token": SecretStr(INSTAGRAM_VERIFY_TOKEN),
            "instagram_access_token": SecretStr(INSTAGRAM_ACCESS_TOKEN),
            "instagram_account_id": INSTAGRAM_ACCOUNT_ID,
            "instagram_api_base": f"{base}/instagram/{INSTAGRAM_VERSION}",
            "public_url": None,  # nothing to register with a platform
            "telegram_bot_username": TELEGRAM_BOT_USERNAME,
            "viber_chat_uri": VIBER_CHAT_URI,
            "instagram_username": INSTAGRAM_USERNAME,
        }
    )


def setup_simulator(app: web.Application, settings: Settings) -> None:
    """Mount the sandbox and the simulator routes on `app` (before its router freezes)."""
    # kept beside `make run`'s database: a restart keeps the tabs' conversations (trial 3, T8)
    sandbox_log = SandboxLog(path=beside_database(settings.database_url, ".simulator.jsonl"))
    app[SANDBOX_LOG] = sandbox_log
    app[_SETTINGS] = settings
    credentials = SandboxCredentials(
        telegram_token=secret(settings.telegram_token) or "",
        viber_token=secret(settings.viber_token) or "",
        instagram_access_token=secret(settings.instagram_access_token) or "",
        instagram_account_id=settings.instagram_account_id or "",
    )
    app.add_subapp(SANDBOX_PREFIX, sandbox_app(sandbox_log, credentials))
    app.add_routes(
        [
            web.get("/", page),
            web.get("/simulator/assets/{name}", asset),
            web.post("/simulator/{channel}/send", send),
            web.get("/simulator/{channel}/updates", updates),
            web.get("/simulator/timeline", timeline),
        ]
    )
    app.cleanup_ctx.append(_client)
    app.on_shutdown.append(_stop_polls)


async def _stop_polls(app: web.Application) -> None:
    app[SANDBOX_LOG].close()


async def _client(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[_CLIENT] = session
        yield


# ---- the page ----------------------------------------------------------------------------------

_ASSETS = {
    "simulator.js": "application/javascript",
    "simulator.css": "text/css",
}


def _static(name: str) -> str:
    return resources.files("bots").joinpath("static", name).read_text("utf-8")


async def page(request: web.Request) -> web.Response:
    return web.Response(text=_static("simulator.html"), content_type="text/html", charset="utf-8")


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise web.HTTPNotFound()
    return web.Response(text=_static(name), content_type=_ASSETS[name], charset="utf-8")


# ---- sending -----------------------------------------------------------------------------------


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _channel(request: web.Request) -> str:
    channel = request.match_info["channel"]
    if channel not in CHANNELS:
        raise web.HTTPNotFound(text=f"no simulated channel {channel!r}")
    return channel


def _person(doc: dict[str, Any]) -> Person:
    key = doc.get("person")
    if not isinstance(key, str) or not _PERSON_KEY.match(key):
        raise PayloadError("'person' must be 1-64 characters of A-Z a-z 0-9 _ -")
    name = str(doc.get("name") or "").strip()[:64] or DEFAULT_NAME
    phone = str(doc.get("phone") or "").strip()  # none: the person's own (`default_phone`)
    if phone and not _PHONE.match(phone):
        raise PayloadError("'phone' does not look like a phone number")
    language = "en" if doc.get("language") == "en" else "uk"
    return Person(key, name=name, phone=phone, language=language)


def _request(doc: dict[str, Any]) -> Request:
    action = doc.get("action", "text")
    if action not in _ACTIONS:
        raise PayloadError(f"'action' must be one of {', '.join(_ACTIONS)}")
    message_id = doc.get("message_id")
    fields = {
        "text": doc.get("text"),
        "payload": doc.get("payload"),
        "tracking_data": doc.get("tracking_data"),
        "context": doc.get("context"),
    }
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise PayloadError(f"'{name}' must be a string")
    if message_id is not None and not isinstance(message_id, int):
        raise PayloadError("'message_id' must be an integer")
    return Request(action=action, message_id=message_id, **fields)


async def send(request: web.Request) -> web.Response:
    """Build, sign and POST one platform webhook request to this server's real route."""
    channel = _channel(request)
    try:
        doc = await request.json()
    except ValueError:
        return _bad("the body must be JSON")
    if not isinstance(doc, dict):
        return _bad("the body must be a JSON object")
    settings = request.app[_SETTINGS]
    try:
        person, req = _person(doc), _request(doc)
        if channel == "telegram":
            bot_id = int((secret(settings.telegram_token) or "0").partition(":")[0])
            req = _with_tapped_message(request.app[SANDBOX_LOG], person, req)
            update = telegram_update(person, req, bot_id)
            signed = sign_telegram(update, secret(settings.telegram_webhook_secret) or "")
        elif channel == "viber":
            signed = sign_viber(viber_callback(person, req), secret(settings.viber_token) or "")
        else:
            event = instagram_event(person, req, settings.instagram_account_id or "")
            signed = sign_instagram(event, secret(settings.instagram_app_secret) or "")
    except PayloadError as e:
        return _bad(str(e))
    url = _own_address(request) + f"/webhooks/{channel}" + signed.query
    try:
        async with request.app[_CLIENT].post(
            url, data=signed.body, headers=signed.headers
        ) as response:
            status = response.status
            answer = await response.text()
    except (aiohttp.ClientError, TimeoutError) as e:
        log.warning("simulator: the %s webhook did not answer: %r", channel, e)
        return web.json_response({"error": f"webhook unreachable: {e}"}, status=502)
    if channel == "viber" and req.action == "open" and status == 200:
        _record_viber_welcome(request.app[SANDBOX_LOG], person, answer)
    return web.json_response(
        {"webhook_status": status, "user_id": person.user_id(channel), "sent": signed.body.decode()}
    )


def _with_tapped_message(sandbox_log: SandboxLog, person: Person, req: Request) -> Request:
    """A Telegram button tap with the tapped message's text and keyboard, as Telegram sends
    them in a callback query (the sandbox recorded the message when the bot sent it)."""
    if req.action != "button" or req.message_id is None:
        return req
    for d in reversed(sandbox_log.after(0, "telegram", person.user_id("telegram"))):
        if d.extra.get("message_id") == req.message_id:
            markup = d.markup if isinstance(d.markup, dict) else None
            return dataclasses.replace(req, message_text=d.text, markup=markup)
    return req


def _own_address(request: web.Request) -> str:
    """This server's own socket address: the webhook is called where the request arrived,
    never at a host named by the client (the Host header)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        raise web.HTTPServiceUnavailable(text="simulator: the server's address is unknown")
    host, port = sockname[0], sockname[1]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _record_viber_welcome(sandbox_log: SandboxLog, person: Person, answer: str) -> None:
    """Viber shows the webhook's answer to `conversation_started` as the welcome message."""
    try:
        body = json.loads(answer)
    except ValueError:
        return
    if not isinstance(body, dict) or "type" not in body:
        return
    sandbox_log.record(
        "viber",
        person.viber_id,
        viber_text(body),
        markup=body.get("keyboard"),
        extra={"tracking_data": body.get("tracking_data")},
        via="webhook-response",
    )


# ---- replies and the timeline ------------------------------------------------------------------


async def updates(request: web.Request) -> web.Response:
    """Replies to the person on this channel after `after`; waits up to `wait` s for one."""
    channel = _channel(request)
    try:
        person = _person(dict(request.query))
        after = int(request.query.get("after", "0"))
        wait = min(max(float(request.query.get("wait", "0")), 0.0), MAX_WAIT)
    except (PayloadError, ValueError) as e:
        return _bad(str(e))
    found = await request.app[SANDBOX_LOG].wait_after(after, channel, person.user_id(channel), wait)
    last = max((d.seq for d in found), default=after)
    return web.json_response({"replies": [d.to_json() for d in found], "last": last})


async def timeline(request: web.Request) -> web.Response:
    """The transcript of the customer(s) behind the person's three identities, in time order.
    Once the identities are linked, that is one customer and one timeline."""
    try:
        person = _person(dict(request.query))
    except PayloadError as e:
        return _bad(str(e))
    async with request.app[DATABASE].session() as s:
        customers: dict[int, list[str]] = {}
        for channel in CHANNELS:
            customer = await CustomerRepository(s).find_by_identity(
                channel, person.user_id(channel)
            )
            if customer is not None:
                customers.setdefault(customer.id, []).append(channel)
        rows = []
        for customer_id in customers:
            rows.extend(await MessageRepository(s).transcript(customer_id, limit=200))
    rows.sort(key=lambda m: (m.created_at, m.id))
    entries = [
        {
            "at": m.created_at.isoformat(),
            "channel": m.channel,
            "from": m.sender_kind,
            # as the agent console shows it: a button's title, "shared phone ..."
            "text": shown.text,
            "kind": shown.kind,
            "status": m.status,
            "customer_id": m.customer_id,
        }
        for m, shown in zip(rows, shown_lines(rows), strict=True)
    ]
    linked = [{"customer_id": k, "channels": v} for k, v in customers.items()]
    return web.json_response({"customers": linked, "timeline": entries})


__all__ = [
    "SANDBOX_LOG",
    "setup_simulator",
    "simulator_settings",
    "wants_simulator",
]
