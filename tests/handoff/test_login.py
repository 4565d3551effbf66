"""The console login: throttled and locked after failures (per account and per client IP, on
both backends), refused from a foreign origin, `Secure` over HTTPS, sessions revocable, every
step in the audit log; passwords are memory-hard scrypt."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from handoff.auth import hash_password
from handoff.login import COOKIE
from storage.audit import AuditEntry
from storage.db import Database
from tests.handoff.conftest import ADMIN, Api

PASSWORD = "correct horse battery"


@contextlib.asynccontextmanager
async def service(settings: Settings) -> AsyncIterator[Api]:
    """The app with these settings on a loopback port (a browser can open it too)."""
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        yield Api(client, settings)


async def login(api: Api, name: str, password: str = PASSWORD, **headers: str) -> Any:
    resp = await api.client.post(
        "/console/login", data={"name": name, "password": password}, headers=headers
    )
    await resp.read()
    api.client.session.cookie_jar.clear()
    return resp


async def audit_log(api: Api, action: str) -> list[AuditEntry]:
    db = Database(api.settings.database_url)
    try:
        async with db.session() as s:
            rows = await s.scalars(select(AuditEntry).where(AuditEntry.action == action))
            return list(rows)
    finally:
        await db.dispose()


def test_passwords_are_memory_hard_scrypt() -> None:
    scheme, n, r, p, _, _ = hash_password("s3cret").split("$")
    assert scheme == "scrypt" and int(n) >= 2**14 and int(r) == 8 and int(p) >= 1


async def test_thirty_wrong_passwords_lock_the_account(
    handoff_settings: Callable[..., Settings],
) -> None:
    async with service(handoff_settings(login_delay_seconds=0)) as api:
        maria, _ = await api.add_agent("maria", ["orders"], password=PASSWORD, online=False)
        answers = await asyncio.gather(*(login(api, "maria", f"guess-{i}") for i in range(30)))
        statuses = [r.status for r in answers]
        # counted before the password is checked: even at once, only 5 guesses are tried
        assert statuses.count(401) == 5 and statuses.count(429) == 25, statuses
        refused = next(r for r in answers if r.status == 429)
        assert 800 <= int(refused.headers["Retry-After"]) <= 900
        assert all(COOKIE not in r.cookies for r in answers)
        # the right password does not open a locked account either
        assert (await login(api, "maria")).status == 429
        failed = await audit_log(api, "login.failed")
        assert len(failed) == 5 and {e.target_id for e in failed} == {str(maria)}
        assert all(e.detail == {"reason": "wrong password"} and e.ip for e in failed)
        [locked] = await audit_log(api, "login.locked")
        assert locked.target_id == str(maria) and locked.detail["locked"] == ["account"]
        assert await audit_log(api, "login.succeeded") == []
        # another agent from the same address is not locked out by maria's lock
        await api.add_agent("olga", ["orders"], password=PASSWORD, online=False)
        assert (await login(api, "olga")).status == 200


async def test_each_failure_doubles_the_wait_and_a_lock_ends(
    handoff_settings: Callable[..., Settings],
) -> None:
    settings = handoff_settings(login_delay_seconds=60, login_max_failures=3)
    async with service(settings) as api:
        await api.add_agent("ivan", ["orders"], password=PASSWORD, online=False)
        assert (await login(api, "ivan", "typo")).status == 401  # one typo costs nothing
        assert (await login(api, "ivan", "typo again")).status == 401
        early = await login(api, "ivan")  # the right one, but too soon
        assert early.status == 429 and 55 <= int(early.headers["Retry-After"]) <= 60
    # a second service with counts of its own (not the first one's Redis keys)
    settings = handoff_settings(
        login_delay_seconds=0, login_lock_minutes=0.01, redis_prefix=settings.redis_prefix + "b"
    )
    async with service(settings) as api:
        await api.add_agent("iryna", ["orders"], password=PASSWORD, online=False)
        for _ in range(5):
            assert (await login(api, "iryna", "wrong")).status == 401
        assert (await login(api, "iryna")).status == 429
        deadline = asyncio.get_running_loop().time() + 20
        while (status := (await login(api, "iryna")).status) == 429:
            assert asyncio.get_running_loop().time() < deadline, "the lock never ended"
            await asyncio.sleep(0.1)
        assert status == 200


async def test_one_address_guessing_many_accounts_is_locked(
    handoff_settings: Callable[..., Settings],
) -> None:
    settings = handoff_settings(login_delay_seconds=0, login_ip_max_failures=4)
    async with service(settings) as api:
        await api.add_agent("petro", ["orders"], password=PASSWORD, online=False)
        for i in range(4):
            assert (await login(api, f"nobody-{i}", "x")).status == 401
        assert (await login(api, "petro")).status == 429
        [locked] = await audit_log(api, "login.locked")
        assert locked.detail["locked"] == ["ip"] and locked.actor == "anonymous"
        unknown = await audit_log(api, "login.failed")
        assert {e.detail["reason"] for e in unknown} == {"unknown account"}


async def test_a_login_from_a_foreign_origin_gets_no_cookie(api: Api) -> None:
    await api.add_agent("maria", ["orders"], password=PASSWORD, online=False)
    host = api.client.make_url("").host
    port = api.client.make_url("").port
    for foreign in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/login.html"},
        {"Origin": f"http://{host}.evil.example:{port}"},
    ):
        resp = await login(api, "maria", **foreign)
        assert resp.status == 403 and COOKIE not in resp.cookies, foreign
        assert "Set-Cookie" not in resp.headers
    own = await login(api, "maria", Origin=f"http://{host}:{port}")
    assert own.status == 200 and COOKIE in own.cookies


async def test_allowed_origins_and_the_secure_cookie(
    handoff_settings: Callable[..., Settings],
) -> None:
    settings = handoff_settings(
        login_allowed_origins=["https://desk.example.com"], trusted_proxies=["127.0.0.1/32"]
    )
    async with service(settings) as api:
        await api.add_agent("maria", ["orders"], password=PASSWORD, online=False)
        resp = await login(api, "maria", Origin="https://desk.example.com")
        assert resp.status == 200 and "Secure" not in resp.headers["Set-Cookie"]
        resp = await login(api, "maria", **{"X-Forwarded-Proto": "https"})
        assert resp.status == 200 and "Secure" in resp.headers["Set-Cookie"]
    async with service(handoff_settings()) as api:  # no trusted proxy: the header is ignored
        await api.add_agent("marta", ["orders"], password=PASSWORD, online=False)
        resp = await login(api, "marta", **{"X-Forwarded-Proto": "https"})
        assert resp.status == 200 and "Secure" not in resp.headers["Set-Cookie"]


async def session(api: Api, name: str) -> dict[str, str]:
    resp = await login(api, name)
    assert resp.status == 200
    csrf = (await resp.json())["csrf_token"]
    return {"Cookie": f"{COOKIE}={resp.cookies[COOKIE].value}", "X-CSRF-Token": csrf}


async def status_with(api: Api, headers: dict[str, str]) -> int:
    resp = await api.client.get("/api/me", headers=headers)
    await resp.read()
    return resp.status


async def test_sessions_are_revocable(api: Api) -> None:
    maria, token = await api.add_agent("maria", ["orders"], password=PASSWORD, online=False)
    # logout ends the session: the old cookie is worth nothing
    first = await session(api, "maria")
    resp = await api.client.post("/console/logout", headers=first)
    assert resp.status == 200 and await status_with(api, first) == 401
    # the agent ends every session of theirs at once
    laptop, phone = await session(api, "maria"), await session(api, "maria")
    resp = await api.client.post("/api/me/sessions/revoke", headers=laptop)
    assert resp.status == 200 and (await resp.json())["revoked"] == 2
    assert await status_with(api, laptop) == 401 and await status_with(api, phone) == 401
    # an admin ends an agent's sessions; the agent's API token is not a session
    again = await session(api, "maria")
    status, doc = await api.call("POST", f"/api/agents/{maria}/sessions/revoke", token)
    assert status == 403
    doc = await api.ok("POST", f"/api/agents/{maria}/sessions/revoke", ADMIN)
    assert doc == {"agent_id": maria, "revoked": 1}
    assert await status_with(api, again) == 401
    assert (await api.call("GET", "/api/me", token))[0] == 200
    assert (await api.call("POST", "/api/agents/999999/sessions/revoke", ADMIN))[0] == 404
    revoked = await audit_log(api, "session.revoked")
    assert [e.detail["how"] for e in revoked] == ["logout", "own", "admin"]
    assert revoked[2].actor == "admin-token" and revoked[2].target_id == str(maria)
    assert revoked[1].actor == f"agent:{maria}"
    assert len(await audit_log(api, "login.succeeded")) == 4


async def test_creating_an_agent_and_opening_a_ticket_are_audited(api: Api) -> None:
    ivan, token = await api.add_agent("ivan", ["orders"], ["en"])
    [created] = [e for e in await audit_log(api, "agent.created") if e.target_id == str(ivan)]
    assert created.actor == "admin-token" and created.detail["role"] == "agent"
    await api.rest("audit-1", "where is my order?")
    await api.rest("audit-1", "I want to talk to a person")
    [ticket] = await api.tickets(token)
    await api.ok("GET", f"/api/tickets/{ticket['id']}", token)
    [viewed] = await audit_log(api, "transcript.viewed")
    assert viewed.actor == f"agent:{ivan}" and viewed.target_id == str(ticket["id"])
    assert viewed.detail["customer_id"] == ticket["customer_id"]
    assert "where is my order" not in str(viewed.detail)


async def test_an_admin_changes_an_agent_and_a_new_password_ends_their_sessions(api: Api) -> None:
    ivan, token = await api.add_agent("ivan", ["orders"], password=PASSWORD, online=False)
    cookie = await session(api, "ivan")
    body = {"role": "supervisor", "skills": ["orders", "bookings"]}
    status, _ = await api.call("PATCH", f"/api/agents/{ivan}", token, body)
    assert status == 403  # nobody promotes themselves
    changed = await api.ok("PATCH", f"/api/agents/{ivan}", ADMIN, body)
    assert changed["role"] == "supervisor" and changed["skills"] == ["bookings", "orders"]
    assert (await api.ok("GET", "/api/me", token))["role"] == "supervisor"
    assert await status_with(api, cookie) == 200  # a role change keeps the session
    for bad in ({"role": "owner"}, {"max_tickets": True}, {"name": "x"}, {}, {"password": ""}):
        assert (await api.call("PATCH", f"/api/agents/{ivan}", ADMIN, bad))[0] == 400, bad
    assert (await api.call("PATCH", "/api/agents/999999", ADMIN, {"max_tickets": 2}))[0] == 404
    await api.ok("PATCH", f"/api/agents/{ivan}", ADMIN, {"password": "a new one"})
    assert await status_with(api, cookie) == 401
    assert (await login(api, "ivan")).status == 401
    assert (await login(api, "ivan", "a new one")).status == 200
    changes = await audit_log(api, "agent.changed")
    assert [e.detail["fields"] for e in changes] == [["role", "skills"], ["password"]]
    assert all(e.actor == "admin-token" and e.target_id == str(ivan) for e in changes)
