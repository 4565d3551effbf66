"""A loopback imitation of the Instagram Send API (Graph), and builders of signed webhooks.

`FakeInstagram` serves `POST {base_url}/{account_id}/messages` on 127.0.0.1. Success answers
`{"recipient_id", "message_id"}`; failures answer `{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}` with the HTTP status Meta uses. The token is accepted from an
`Authorization: Bearer` header or an `access_token` query parameter.

Webhook bodies are serialised the way Meta sends them: compact JSON, non-ASCII escaped with
lowercase hex (`\\u00e4`), `/` escaped as `\\/`, signed over exactly those bytes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_VERSION = "v21.0"
# code -> (HTTP status, type, message) as Meta answers them
ERRORS: dict[int, tuple[int, str, str]] = {
    1: (500, "OAuthException", "An unknown error has occurred."),
    2: (
        503,
        "OAuthException",
        "An unexpected error has occurred. Please retry your request later.",
    ),
    4: (400, "OAuthException", "(#4) Application request limit reached"),
    10: (403, "IGApiException", "This message is sent outside of allowed window."),
    17: (400, "OAuthException", "(#17) User request limit reached"),
    32: (400, "OAuthException", "(#32) Page request limit reached"),
    100: (400, "IGApiException", "(#100) Invalid parameter"),
    190: (400, "OAuthException", "Invalid OAuth access token - Cannot parse access token"),
    551: (400, "IGApiException", "(#551) This person isn't available right now."),
    613: (400, "OAuthException", "(#613) Calls to this api have exceeded the rate limit."),
}
MAX_TEXT_BYTES = 1000
MAX_QUICK_REPLIES = 13


@dataclass
class GraphCall:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    status: int  # the HTTP status we answered


@dataclass
class _Failure:
    code: int
    subcode: int | None
    status: int | None
    message: str | None


@dataclass
class FakeInstagram:
    """The fake Graph API; `async with FakeInstagram(token, account_id) as ig: ig.base_url`."""

    access_token: str
    account_id: str
    calls: list[GraphCall] = field(default_factory=list)
    closed_windows: set[str] = field(default_factory=set)  # 24 h passed (HUMAN_AGENT still ok)
    unknown_users: set[str] = field(default_factory=set)
    base_url: str = ""
    # extra aiohttp middlewares, e.g. `tests.fakes.outage.Outage.middleware`
    middlewares: list[Any] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeInstagram:
        app = web.Application(middlewares=self.middlewares)
        app.router.add_post(f"/{API_VERSION}/{{account}}/messages", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/{API_VERSION}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(
        self,
        code: int = 613,
        subcode: int | None = None,
        *,
        status: int | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next send with this Graph error (queued, FIFO)."""
        self._failures.append(_Failure(code, subcode, status, message))

    def sent(self) -> list[dict[str, Any]]:
        """Bodies of the successful sends, in order."""
        return [c.body for c in self.calls if c.status == 200]

    async def wait_for(
        self,
        count: int = 1,
        *,
        where: Callable[[GraphCall], bool] | None = None,
        within: float = 5.0,
    ) -> list[GraphCall]:
        deadline = time.monotonic() + within
        while True:
            found = [c for c in self.calls if where is None or where(c)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)}/{count} Send API calls after {within}s")
            await asyncio.sleep(0.01)

    # ---- the API -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        call = GraphCall(request.path, dict(request.query), dict(request.headers), {}, 0)
        self.calls.append(call)
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._error(call, 100, None, "(#100) The request body is not JSON")
        call.body = body
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        token = bearer if scheme.lower() == "bearer" else request.query.get("access_token")
        if token != self.access_token:
            return self._error(call, 190)
        if request.match_info["account"] not in (self.account_id, "me"):
            return self._error(call, 100, None, "(#100) Unsupported post request.")
        if self._failures:
            f = self._failures.pop(0)
            return self._error(call, f.code, f.subcode, f.message, f.status)
        problem = _check(body)
        if problem:
            return self._error(call, 100, None, problem)
        recipient = str(body["recipient"]["id"])
        if recipient in self.unknown_users:
            return self._error(call, 100, 2018001, "No matching user found")
        if recipient in self.closed_windows and body.get("tag") != "HUMAN_AGENT":
            return self._error(call, 10, 2534022)
        call.status = 200
        mid = base64.b64encode(f"ig_message_item:1:IGMessageThread:{next(self._ids)}".encode())
        return web.json_response({"recipient_id": recipient, "message_id": mid.decode()})

    def _error(
        self,
        call: GraphCall,
        code: int,
        subcode: int | None = None,
        message: str | None = None,
        status: int | None = None,
    ) -> web.Response:
        default_status, kind, default_message = ERRORS.get(code, (400, "OAuthException", "error"))
        error: dict[str, Any] = {
            "message": message or default_message,
            "type": kind,
            "code": code,
            "fbtrace_id": f"A{next(self._ids):09d}xYz",
        }
        if subcode is not None:
            error["error_subcode"] = subcode
        call.status = status or default_status
        return web.json_response({"error": error}, status=call.status)


def _check(body: dict[str, Any]) -> str | None:
    recipient = body.get("recipient")
    if not isinstance(recipient, dict) or not recipient.get("id"):
        return "(#100) The parameter recipient is required"
    kind = body.get("messaging_type", "RESPONSE")
    if kind not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
        return f"(#100) Param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG: {kind}"
    if kind == "MESSAGE_TAG" and body.get("tag") != "HUMAN_AGENT":
        return "(#100) Param tag must be HUMAN_AGENT for Instagram"
    message = body.get("message")
    if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
        return "(#100) The parameter message[text] or message[attachment] is required"
    text = message.get("text")
    if text is not None and len(text.encode()) > MAX_TEXT_BYTES:
        return "(#100) Length of param message[text] must be less than or equal to 1000"
    attachment = message.get("attachment")
    if isinstance(attachment, dict) and attachment.get("type") == "template":
        problem = _check_template(attachment.get("payload"))
        if problem:
            return problem
    quick = message.get("quick_replies")
    if quick is not None:
        if not isinstance(quick, list) or not 1 <= len(quick) <= MAX_QUICK_REPLIES:
            return "(#100) param message[quick_replies] must have 1-13 elements"
        for q in quick:
            if q.get("content_type") != "text" or not q.get("title") or not q.get("payload"):
                return "(#100) quick_replies need content_type text, a title and a payload"
    return None


def _check_template(payload: Any) -> str | None:
    """Meta's button template: text up to 640 characters, 1-3 `web_url` (http(s) `url`) or
    `postback` (`payload`) buttons with a title of at most 20 characters."""
    if not isinstance(payload, dict) or payload.get("template_type") != "button":
        return "(#100) Only the button template is supported by this fake"
    text = payload.get("text")
    if not isinstance(text, str) or not text or len(text) > 640:
        return "(#100) param message[attachment][payload][text] must be 1-640 characters"
    buttons = payload.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return "(#100) param buttons must have 1-3 elements"
    for b in buttons:
        if not isinstance(b, dict) or not b.get("title") or len(str(b["title"])) > 20:
            return "(#100) a button needs a title of at most 20 characters"
        if b.get("type") == "web_url":
            if not str(b.get("url") or "").lower().startswith(("http://", "https://")):
                return "(#100) param url must be a valid URL"
        elif b.get("type") != "postback" or not b.get("payload"):
            return f"(#100) unsupported button type {b.get('type')!r}"
    return None


# ---- webhooks ----------------------------------------------------------------------------------

ACCOUNT_ID = "17841400000000001"
CUSTOMER = "1254459154682919"  # an IGSID
_mids = itertools.count(1)


@dataclass(frozen=True)
class SignedWebhook:
    body: bytes
    headers: dict[str, str]


def meta_json(doc: Any) -> bytes:
    """Meta's wire form: ASCII-only with lowercase \\u escapes, and `\\/` for slashes."""
    return json.dumps(doc, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def sign(app_secret: str, doc: dict[str, Any]) -> SignedWebhook:
    body = meta_json(doc)
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    legacy = hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()
    return SignedWebhook(
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": f"sha256={digest}",
            "X-Hub-Signature": f"sha1={legacy}",
        },
    )


def new_mid() -> str:
    raw = f"ig_message_item:1:IGMessageThread:{ACCOUNT_ID}:{next(_mids):020d}"
    return base64.b64encode(raw.encode()).decode()


def body(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"object": "instagram", "entry": list(entries)}


def entry(
    *items: dict[str, Any], account_id: str = ACCOUNT_ID, key: str = "messaging"
) -> dict[str, Any]:
    return {"id": account_id, "time": 1732280000123, key: list(items)}


def item(
    payload_key: str, payload: dict[str, Any], *, sender: str = CUSTOMER, ts: int = 1732280000000
) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": ACCOUNT_ID},
        "timestamp": ts,
        payload_key: payload,
    }


def message(
    text: str | None = None, *, mid: str | None = None, sender: str = CUSTOMER, **extra: Any
) -> dict[str, Any]:
    content: dict[str, Any] = {"mid": mid or new_mid()}
    if text is not None:
        content["text"] = text
    content.update(extra)
    return item("message", content, sender=sender)


def echo(text: str) -> dict[str, Any]:
    doc = message(text, sender=ACCOUNT_ID, is_echo=True)
    doc["recipient"] = {"id": CUSTOMER}
    return doc


def postback(title: str, payload: str) -> dict[str, Any]:
    return item("postback", {"mid": new_mid(), "title": title, "payload": payload})


def reaction(mid: str, emoji: str = "\u2764\ufe0f", action: str = "react") -> dict[str, Any]:
    return item("reaction", {"mid": mid, "action": action, "reaction": "love", "emoji": emoji})


def read(mid: str) -> dict[str, Any]:
    return item("read", {"mid": mid})


def referral(ref: str) -> dict[str, Any]:
    return item("referral", {"ref": ref, "source": "IGME_LINK", "type": "OPEN_THREAD"})


def dashboard_test(text: str = "random mesage") -> dict[str, Any]:
    """What the app dashboard's "Test" button sends for the `messages` field."""
    return {
        "object": "instagram",
        "entry": [
            {
                "id": "0",
                "time": 1732280000,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "sender": {"id": "12334"},
                            "recipient": {"id": "23245"},
                            "timestamp": "1527459824",
                            "message": {"mid": "random_mid", "text": text},
                        },
                    }
                ],
            }
        ],
    }
