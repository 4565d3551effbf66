"""Who is calling, and the console login: authentication of the agent and admin APIs, the CSRF
check, the access rule (`handoff.access`), and ``POST /console/login`` with its throttle.

Authentication: ``Authorization: Bearer <agent token | OMNIRELAY_ADMIN_TOKEN>``, or the console
session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) set by ``POST /console/login``.
Every state-changing request authenticated by the cookie must carry the session's CSRF token in
``X-CSRF-Token``. A login POST whose ``Origin`` (or ``Referer``) is another site is refused
(403) and gets no cookie. Failed logins slow down, then lock (`handoff.throttle`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from handoff import access, auth
from handoff.auth import Principal
from handoff.errors import NotFound
from handoff.throttle import LoginConfig, MemoryThrottle, RedisThrottle, Throttle
from handoff.views import agent_json
from storage.audit import audit
from storage.backends import Backends
from storage.db import Database

__all__ = [
    "COOKIE",
    "PRINCIPAL",
    "UNSAFE",
    "Login",
    "actor_of",
    "authenticate",
    "client_ip",
    "gate",
    "is_https",
    "record",
]

log = logging.getLogger(__name__)

COOKIE = "omnirelay_console"
#: who `gate` let in, for the handler (e.g. the audit log's actor)
PRINCIPAL = web.RequestKey("principal", Principal)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]


def actor_of(principal: Principal) -> str:
    """The audit log's name of a caller: ``agent:<id>`` or ``admin-token``."""
    return "admin-token" if principal.agent_id is None else f"agent:{principal.agent_id}"


async def record(
    request: web.Request,
    db: Database,
    action: str,
    principal: Principal | None,
    trusted: Sequence[str] = (),
    **fields: Any,
) -> None:
    """One audit entry (own transaction) for ``principal`` (None: an unknown caller)."""
    await audit(
        db,
        actor=actor_of(principal) if principal is not None else "anonymous",
        role=principal.role if principal is not None else None,
        action=action,
        ip=client_ip(request, trusted),
        **fields,
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


async def authenticate(
    request: web.Request, db: Database, admin_token: str | None
) -> Principal | None:
    """The caller by bearer token (agent or admin) or console cookie; None: nobody."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
            return Principal.admin()
        agent = await auth.agent_by_token(db, token)
        return Principal.of(agent) if agent is not None else None
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return await auth.session_principal(db, cookie)
    return None


async def gate(
    request: web.Request, db: Database, admin_token: str | None
) -> Principal | web.Response:
    """The caller, or the refusal: 401 nobody, 403 a cookie write without its CSRF token,
    403 a caller the route's access rule does not name."""
    principal = await authenticate(request, db, admin_token)
    if principal is None:
        return _error(401, "missing or wrong credentials")
    if principal.csrf_token is not None and request.method in UNSAFE:
        sent = request.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
            log.warning("%s %s: missing or wrong CSRF token", request.method, request.path)
            return _error(403, "missing or wrong CSRF token")
    if not access.allows(request, principal):
        log.warning(
            "%s %s: refused to %s (handoff/access.py)",
            request.method,
            request.path,
            access.caller_of(principal),
        )
        rule = access.rule_of(request)
        allowed = ", ".join(sorted(rule.roles)) if rule is not None else "nobody (no rule)"
        return _error(403, f"not for {access.caller_of(principal)}: only {allowed}")
    request[PRINCIPAL] = principal
    return principal


def _networks(trusted: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(t.strip(), strict=False) for t in trusted if t.strip()]


def _trusted(address: str | None, trusted: Sequence[str]) -> bool:
    if not address or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(trusted))


def client_ip(request: web.Request, trusted: Sequence[str]) -> str:
    """The client's address: ``X-Forwarded-For`` is believed only from a trusted proxy (the
    right-most address that is not one of them)."""
    remote = request.remote or "unknown"
    if not _trusted(remote, trusted):
        return remote
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return remote


def is_https(request: web.Request, trusted: Sequence[str]) -> bool:
    """Whether the browser came over HTTPS (directly, or to a trusted proxy that says so)."""
    if request.secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return proto == "https" and _trusted(request.remote, trusted)


def same_origin(request: web.Request, allowed: Sequence[str]) -> bool:
    """No ``Origin``/``Referer`` (not a browser form) or one of this host or ``allowed``."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin is None:
        return True
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc:
        return False  # "null" (a sandboxed frame, a file) or garbage
    if parts.netloc.lower() == request.host.lower():
        return True
    here = f"{parts.scheme}://{parts.netloc}".lower()
    return any(here == a.strip().rstrip("/").lower() for a in allowed)


class Login:
    """``POST /console/login``: origin check, throttle, password, session cookie, audit."""

    def __init__(
        self,
        login: LoginConfig,
        session_hours: float,
        cookie_secure: bool,
        resources: Callable[[web.Request], tuple[Database, Backends]],
    ) -> None:
        self.config = login
        self.ttl = dt.timedelta(hours=session_hours)
        self.cookie_secure = cookie_secure
        self.resources = resources
        self._throttle: Throttle | None = None

    def throttle(self, backends: Backends) -> Throttle:
        if self._throttle is None:
            seconds = self.config.lock_seconds
            if backends.redis is not None and backends.keys is not None:
                key_of = backends.keys.login_throttle
                self._throttle = RedisThrottle(backends.redis, seconds, key_of)
            else:
                self._throttle = MemoryThrottle(seconds)
        return self._throttle

    async def login(self, request: web.Request) -> web.Response:
        if not same_origin(request, self.config.allowed_origins):
            log.warning("console: a login from a foreign origin refused (%s)", request.remote)
            return _error(403, "a login must come from this site's own page")
        form = await request.post()
        name, password = form.get("name"), form.get("password")
        if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
            return _error(400, "name and password are required")
        db, backends = self.resources(request)
        throttle = self.throttle(backends)
        ip = client_ip(request, self.config.trusted_proxies)
        keys = self._keys(name, ip)
        counts, wait = await _claim(throttle, keys)
        if wait > 0:
            log.warning("console: login for %r from %s refused: throttled", name[:100], ip)
            return _too_many(wait)
        try:
            agent, token, csrf = await auth.login(db, name, password, self.ttl)
        except NotFound:
            counted = list(zip(keys, counts, strict=True))
            return await self._failed(request, db, throttle, counted, name[:100])
        except Exception:
            for key, _ in keys:  # the database failed, not the caller: the try does not count
                await throttle.forget(key, clear=False)
            raise
        await throttle.forget(keys[0][0], clear=True)
        await throttle.forget(keys[1][0], clear=False)
        who = Principal.of(agent)
        await record(request, db, "login.succeeded", who, self.config.trusted_proxies)
        if "text/html" in request.headers.get("Accept", ""):
            response = web.Response(status=303, headers={"Location": "/console"})
        else:
            response = web.json_response({"agent": agent_json(agent), "csrf_token": csrf})
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(self.ttl.total_seconds()),
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.cookie_secure or is_https(request, self.config.trusted_proxies),
        )
        return response

    async def _failed(
        self,
        request: web.Request,
        db: Database,
        throttle: Throttle,
        counted: list[tuple[tuple[str, int], int]],
        name: str,
    ) -> web.Response:
        """A wrong name or password: each key waits (or is locked); the audit log says so."""
        locked: list[str] = []
        for (key, limit), count in counted:
            if count >= limit:
                locked.append(key.partition(":")[0])
            await throttle.failed(key, self.config.wait_after(count, limit))
        agent_id = await auth.agent_id_named(db, name)
        why = "wrong password" if agent_id is not None else "unknown account"
        ip = client_ip(request, self.config.trusted_proxies)
        log.warning("console: failed login for %r from %s (%s)", name, ip, why)
        target = {"target_type": "agent", "target_id": agent_id} if agent_id else {}
        trusted = self.config.trusted_proxies
        await record(request, db, "login.failed", None, trusted, detail={"reason": why}, **target)
        if locked:
            log.error("console: logins locked for %s (%r from %s)", "+".join(locked), name, ip)
            detail = {"locked": locked, "minutes": self.config.lock_minutes}
            await record(request, db, "login.locked", None, trusted, detail=detail, **target)
        return _error(401, "unknown name or wrong password")

    def _keys(self, name: str, ip: str) -> list[tuple[str, int]]:
        account = name.strip().lower()[:100]
        return [
            (f"account:{account}", self.config.max_failures),
            (f"ip:{ip}", self.config.ip_max_failures),
        ]


async def _claim(throttle: Throttle, keys: list[tuple[str, int]]) -> tuple[list[int], float]:
    """Count the attempt on every key; a refused key takes the others' counts back."""
    counts: list[int] = []
    for key, limit in keys:
        count, wait = await throttle.attempt(key, limit)
        if wait > 0:
            for done, _ in keys[: len(counts)]:
                await throttle.forget(done, clear=False)
            return [], wait
        counts.append(count)
    return counts, 0.0


def _too_many(wait: float) -> web.Response:
    seconds = max(1, math.ceil(wait))
    return _error(
        429,
        f"too many failed logins: try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
