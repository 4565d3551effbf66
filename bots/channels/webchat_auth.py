"""Who a web-chat request comes from: the signed visitor cookie, the business's signed customer
id, and the origins allowed to embed the widget.

A visitor is ``v:<random>`` (anonymous) or ``u:<the business's customer id>`` once the
business's own site vouched for it with ``HMAC-SHA256(identity secret, customer id)`` in hex,
as Intercom's and Chatwoot's identity verification do: the same customer on any device or
browser is then one chat, with one transcript. The cookie holds the visitor id and an HMAC of
it under the cookie secret; it is HTTP-only, so no script of the page can read or forge it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from bots.identity.service import normalise_phone

__all__ = [
    "COOKIE",
    "Signer",
    "WebchatConfig",
    "allowed_origin",
    "identity_hash",
    "new_visitor",
    "verified_customer",
    "verified_phone",
]

COOKIE = "omnirelay_webchat"
COOKIE_DAYS = 365
# a receipt names "<visitor>/<event id>" in a 128-character column
_CUSTOMER_ID = re.compile(r"[A-Za-z0-9_.:@+-]{1,80}")


@dataclass(frozen=True, slots=True)
class WebchatConfig:
    public_key: str
    allowed_origins: tuple[str, ...]
    cookie_secret: bytes
    cookie_secure: bool
    identity_secret: str | None
    default_language: str
    lock_timeout: float = 30.0  # a link to a known customer may merge profiles under locks
    #: "continue in ..." addresses, for the widget's menu (the deep links come from the flow)
    continue_in: tuple[str, ...] = ()


def new_visitor() -> str:
    return "v:" + secrets.token_urlsafe(16)


def identity_hash(secret: str, customer_id: str) -> str:
    """What the business's site puts in ``data-user-hash`` for ``customer_id``."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def verified_customer(secret: str | None, customer_id: object, given: object) -> str | None:
    """``u:<customer id>`` when ``given`` is the id's HMAC under ``secret``; None when it is not
    (or no secret is configured, or the id is not one a chat can carry)."""
    if secret is None or not isinstance(customer_id, str) or not isinstance(given, str):
        return None
    if not _CUSTOMER_ID.fullmatch(customer_id):
        return None
    expected = identity_hash(secret, customer_id)
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        return None
    return "u:" + customer_id


def verified_phone(secret: str | None, phone: object, given: object) -> str | None:
    """The number the business's site vouches for (``data-user-phone``, with ``data-phone-hash``
    = ``HMAC-SHA256(secret, "phone:" + the number as given)``), normalised; None otherwise."""
    if secret is None or not isinstance(phone, str) or not isinstance(given, str):
        return None
    expected = identity_hash(secret, "phone:" + phone)
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        return None
    return normalise_phone(phone)


class Signer:
    """Signs and reads the visitor cookie."""

    def __init__(self, secret: bytes, *, secure: bool) -> None:
        self._secret = secret
        self.secure = secure

    def _mac(self, visitor: str) -> str:
        digest = hmac.new(self._secret, b"visitor:" + visitor.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def value(self, visitor: str) -> str:
        encoded = base64.urlsafe_b64encode(visitor.encode()).decode().rstrip("=")
        return f"{encoded}.{self._mac(visitor)}"

    def visitor(self, request: web.Request) -> str | None:
        """The visitor the request's cookie names, None without a (correctly signed) one."""
        raw = request.cookies.get(COOKIE, "")
        encoded, _, mac = raw.partition(".")
        if not encoded or not mac or len(raw) > 400:
            return None
        try:
            visitor = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not hmac.compare_digest(self._mac(visitor).encode(), mac.encode()):
            return None
        return visitor

    def set(self, response: web.StreamResponse, visitor: str) -> None:
        """HTTP-only; ``SameSite=None; Secure`` when configured for a widget on another site
        over HTTPS, else ``Lax`` (browsers refuse ``None`` without ``Secure``)."""
        response.set_cookie(
            COOKIE,
            self.value(visitor),
            max_age=COOKIE_DAYS * 24 * 3600,
            path="/webchat",
            httponly=True,
            secure=self.secure,
            samesite="None" if self.secure else "Lax",
        )


def allowed_origin(request: web.Request, allowed: Sequence[str], *, required: bool) -> bool:
    """The request's ``Origin`` is this service's own host or one of ``allowed`` (``*``: any).
    Without an ``Origin`` header (same-origin GETs): ``not required``."""
    origin = request.headers.get("Origin")
    if origin is None:
        return not required
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc:
        return False  # "null": a sandboxed frame or a file
    if parts.netloc.lower() == request.host.lower():
        return True
    here = f"{parts.scheme}://{parts.netloc}".lower()
    return any(a.strip() == "*" or here == a.strip().rstrip("/").lower() for a in allowed)
