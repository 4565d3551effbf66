"""Every route of the real application against its line in `handoff.access`, called by each
kind of caller: nobody, an agent, a supervisor and an admin (bearer agent tokens and console
sessions) and the admin token. A route with no line fails the suite, and is refused at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import Settings
from handoff import access
from handoff.api import _Api
from handoff.login import COOKIE
from tests.handoff.conftest import ADMIN, Api

PASSWORD = "access table password"
# calls that end the caller's console session go last
ENDS_SESSION = {("POST", "/console/logout"), ("POST", "/api/me/sessions/revoke")}


@dataclass
class Caller:
    name: str  # "none", the role of an account, or "admin-token"
    role: str | None
    headers: dict[str, str] = field(default_factory=dict)
    account: str | None = None  # the account of a console session

    @property
    def cookie(self) -> bool:
        return self.account is not None

    async def log_in(self, api: Api) -> None:
        """A new console session (the previous call may have ended it)."""
        assert self.account is not None
        cookie, csrf = await session_of(api, self.account)
        self.headers = {"Cookie": f"{COOKIE}={cookie}", "X-CSRF-Token": csrf}

    def __str__(self) -> str:
        return self.name + (" (cookie)" if self.cookie else "")


async def session_of(api: Api, name: str) -> tuple[str, str]:
    """Log in as ``name``: the session cookie's value and its CSRF token."""
    resp = await api.client.post("/console/login", data={"name": name, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    token, csrf = resp.cookies[COOKIE].value, (await resp.json())["csrf_token"]
    api.client.session.cookie_jar.clear()  # each call below sends its own credentials
    return token, csrf


async def callers(api: Api) -> list[Caller]:
    found = [Caller("none", None), Caller("admin-token", "admin-token", _bearer(ADMIN))]
    for role in ("agent", "supervisor", "admin"):
        skills = ["orders"] if role == "agent" else []
        _, token = await api.add_agent(f"acc-{role}", skills, ["en", "uk"], role=role)
        found.append(Caller(role, role, _bearer(token)))
        await api.add_agent(f"web-{role}", skills, ["en", "uk"], role=role, password=PASSWORD)
        found.append(Caller(role, role, account=f"web-{role}"))
        await found[-1].log_in(api)
    return found


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def expected_refusal(rule: access.Rule, caller: Caller) -> int | None:
    """The status the caller must get, or None when the rule lets them in."""
    if rule.auth == "page":
        if not caller.cookie:
            return 303  # a page is opened with the console session, else the login
        return None if caller.role in rule.roles else 403
    if caller.role is None:
        return 401
    if rule.auth == "token":
        return None if caller.role == "admin-token" else 401
    return None if caller.role in rule.roles else 403


def fill(path: str, ids: dict[str, int]) -> str:
    for prefix, value in ids.items():
        if path.startswith(prefix):
            path = path.replace("{id}", str(value))
    return path.replace("{id}", "999999").replace("{name}", "console.js")


async def call(api: Api, method: str, path: str, caller: Caller) -> tuple[int, str]:
    body = {} if method != "GET" else None
    resp = await api.client.request(
        method, path, json=body, headers=caller.headers, allow_redirects=False
    )
    try:
        if resp.content_type == "text/event-stream":
            return resp.status, ""
        return resp.status, (await resp.text())[:200]
    finally:
        resp.close()


def app_routes(app: web.Application) -> list[tuple[str, str]]:
    keys = {access.route_key(r.method, r.resource.canonical) for r in app.router.routes()}
    return sorted(keys, key=lambda k: (k in ENDS_SESSION, k))


async def a_ticket_in_the_agents_queue(api: Api) -> dict[str, Any]:
    await api.rest("acc-customer", "where is my order?")
    await api.rest("acc-customer", "I want to talk to a person")  # orders / en
    [ticket] = await api.tickets(ADMIN)
    assert ticket["queue"]["topic"] == "orders"
    return ticket


async def test_every_route_answers_each_caller_as_its_rule_says(api: Api) -> None:
    every = await callers(api)
    ticket = await a_ticket_in_the_agents_queue(api)
    victim, _ = await api.add_agent("acc-victim", ["orders"], online=False)
    ids = {
        "/api/tickets/": ticket["id"],
        "/api/customers/": ticket["customer_id"],
        "/api/agents/": victim,
    }
    wrong: list[str] = []
    checked = 0
    for method, path in app_routes(api.client.app):
        rule = access.rule_for(method, path)
        assert rule is not None, f"{method} {path} has no line in handoff/access.py"
        if rule.auth == "public" or method == "*":
            continue
        for caller in every:
            if caller.cookie and (method, path) in ENDS_SESSION:
                await caller.log_in(api)
            status, text = await call(api, method, fill(path, ids), caller)
            checked += 1
            refusal = expected_refusal(rule, caller)
            if refusal is not None and status != refusal:
                wrong.append(f"{method} {path} by {caller}: {status}, expected {refusal} {text}")
            if refusal is None and (status in (401, 403) or status >= 500):
                wrong.append(f"{method} {path} by {caller}: {status}, expected in {text}")
    assert wrong == []
    assert checked > 150


async def test_the_readme_gap_an_agent_does_not_list_the_agents(api: Api) -> None:
    _, agent = await api.add_agent("plain", ["orders"])
    status, doc = await api.call("GET", "/api/agents", agent)
    assert status == 403 and "agents" not in doc
    names = await api.ok("GET", "/api/agents/names", agent)
    assert {"id", "name", "status"} == set(names["agents"][0])  # no role, skills, languages
    assert "plain" in {a["name"] for a in names["agents"]}
    assert "skills" in (await api.ok("GET", "/api/agents", ADMIN))["agents"][0]


async def test_the_admin_api_takes_an_admins_session_and_token_but_no_one_elses(api: Api) -> None:
    await api.rest("adm-customer", "hello")
    [ticket_customer] = (await api.ok("GET", "/api/conversations", ADMIN))["conversations"]
    path = f"/api/customers/{ticket_customer['customer_id']}"
    _, boss = await api.add_agent("boss", [], role="admin", password=PASSWORD)
    _, sup = await api.add_agent("sup", [], role="supervisor", password=PASSWORD)
    assert (await api.ok("GET", path, boss))["id"] == ticket_customer["customer_id"]
    assert (await api.call("GET", path, sup))[0] == 403
    assert (await api.call("GET", path, None))[0] == 401
    cookie, csrf = await session_of(api, "boss")
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    resp = await api.client.get(path, headers=headers)
    assert resp.status == 200
    # a write with the cookie needs the CSRF token
    merge = f"{path}/merge"
    resp = await api.client.post(merge, json={"other": 999999}, headers=headers)
    assert resp.status == 403 and "CSRF" in (await resp.json())["error"]
    resp = await api.client.post(
        merge, json={"other": 999999}, headers={**headers, "X-CSRF-Token": csrf}
    )
    assert resp.status == 404
    cookie, _ = await session_of(api, "sup")
    resp = await api.client.get(path, headers={"Cookie": f"{COOKIE}={cookie}"})
    assert resp.status == 403


async def test_every_unsafe_cookie_request_needs_the_csrf_token(api: Api) -> None:
    _, _ = await api.add_agent("csrf-admin", [], role="admin", password=PASSWORD)
    cookie, _ = await session_of(api, "csrf-admin")
    unsafe = [
        (m, p)
        for m, p in app_routes(api.client.app)
        if m in ("POST", "PUT", "PATCH", "DELETE")
        and (rule := access.rule_for(m, p)) is not None
        and rule.auth == "api"
    ]
    assert ("POST", "/api/customers/{id}/merge") in unsafe and len(unsafe) >= 12
    for method, path in unsafe:
        for token in (None, "not-the-token"):
            headers = {"Cookie": f"{COOKIE}={cookie}"}
            if token:
                headers["X-CSRF-Token"] = token
            url = fill(path, {})
            resp = await api.client.request(method, url, json={}, headers=headers)
            doc = await resp.json()
            assert resp.status == 403 and "CSRF" in doc["error"], (method, path, doc)
    # the session still works: nothing above reached a handler
    resp = await api.client.get("/api/me", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert resp.status == 200 and (await resp.json())["name"] == "csrf-admin"


async def test_a_route_without_a_rule_fails_the_table_and_is_refused(
    handoff_settings: Callable[..., Settings],
) -> None:
    settings = handoff_settings()
    app = create_app(settings)
    assert access.unruled(app.router.routes()) == []
    simulated = create_app(handoff_settings(simulator=True))
    assert access.unruled(simulated.router.routes()) == []

    async def secret(request: web.Request, principal: object) -> web.Response:
        return web.json_response({"secret": True})

    guard = _Api(handoff_config_of(settings)).guard
    app.router.add_get("/api/unruled", guard(secret))
    assert access.unruled(app.router.routes()) == [("GET", "/api/unruled")]
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/api/unruled", headers=_bearer(ADMIN))
        doc = await resp.json()
        assert resp.status == 403 and "no rule" in doc["error"] and "secret" not in doc


def handoff_config_of(settings: Settings) -> Any:
    from bots.app import handoff_config

    return handoff_config(settings)


# a body each ticket route accepts, so that only the scope can refuse it
SCOPE_BODIES: dict[str, Any] = {
    "/api/tickets/{id}": None,
    "/api/tickets/{id}/claim": None,
    "/api/tickets/{id}/messages": {"text": "hello from another team"},
    "/api/tickets/{id}/close": {"resolution": "closed by another team"},
    "/api/tickets/{id}/transfer": {"topic": "orders"},
}


async def test_an_agent_reaches_no_ticket_and_no_customer_outside_their_teams(api: Api) -> None:
    _, agent = await api.add_agent("scope-orders", ["orders"], ["en"])
    await api.rest("scope-1", "покличте людину")  # general / uk: not the agent's team
    [ticket] = await api.tickets(ADMIN)
    scoped = [
        (m, p)
        for m, p in app_routes(api.client.app)
        if "{id}" in p and (rule := access.rule_for(m, p)) and rule.scope == access.QUEUES
    ]
    assert {p for _, p in scoped} == set(SCOPE_BODIES), "give the new route a body above"
    for method, path in scoped:
        url = path.replace("{id}", str(ticket["id"]))
        status, doc = await api.call(method, url, agent, SCOPE_BODIES[path])
        assert status == 403, (method, path, status, doc)
    [after] = await api.tickets(ADMIN)
    assert (after["status"], after["queue"], after["agent_id"]) == (
        ticket["status"],
        ticket["queue"],
        ticket["agent_id"],
    )
    detail = await api.ok("GET", f"/api/tickets/{ticket['id']}", ADMIN)
    assert not [m for m in detail["transcript"] if m["from"] == "agent"]
    everything = "?status=queued,offered,assigned,closed"
    assert (await api.ok("GET", "/api/tickets" + everything, agent))["tickets"] == []
    people = (await api.ok("GET", "/api/conversations", agent))["conversations"]
    assert ticket["customer_id"] not in {c["customer_id"] for c in people}
    # a supervisor's scope is every team
    _, boss = await api.add_agent("scope-boss", [], role="supervisor")
    assert (await api.call("GET", f"/api/tickets/{ticket['id']}", boss))[0] == 200


async def test_a_supervisor_with_skills_oversees_their_teams_only(api: Api) -> None:
    _, agent = await api.add_agent("team-agent", ["orders"], ["en"])
    _, lead = await api.add_agent("team-lead", ["orders"], ["en"], role="supervisor")
    await api.rest("team-1", "where is my order?")
    await api.rest("team-1", "I want to talk to a person")  # orders / en: the lead's team
    await api.rest("team-2", "покличте людину")  # general / uk: not the lead's team
    tickets = {t["queue"]["topic"]: t for t in await api.tickets(ADMIN)}
    ours, theirs = tickets["orders"], tickets["general"]
    everything = "/api/tickets?status=queued,offered,assigned,closed"
    listed = (await api.ok("GET", everything, lead))["tickets"]
    assert [t["id"] for t in listed] == [ours["id"]]
    for method, path in (("GET", ""), ("POST", "/claim"), ("POST", "/transfer")):
        body = {"topic": "orders"} if path == "/transfer" else None
        url = f"/api/tickets/{theirs['id']}{path}"
        assert (await api.call(method, url, lead, body))[0] == 403, path
    people = (await api.ok("GET", "/api/conversations", lead))["conversations"]
    assert theirs["customer_id"] not in {c["customer_id"] for c in people}
    # in their team a supervisor still acts on an agent's ticket, and reads the metrics
    await api.ok("POST", f"/api/tickets/{ours['id']}/claim", agent)
    await api.ok("POST", f"/api/tickets/{ours['id']}/messages", lead, {"text": "lead here"})
    await api.ok("POST", f"/api/tickets/{ours['id']}/close", lead, {"resolution": "done"})
    assert (await api.call("GET", "/api/metrics/summary", lead))[0] == 200
