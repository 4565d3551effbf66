"""Who may do what: bearer tokens, the admin token, console cookies with CSRF, queue visibility."""

from __future__ import annotations

from handoff.auth import hash_password, verify_password
from tests.handoff.conftest import ADMIN, Api


def test_password_hashes_are_salted_and_verified() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("s3cret", first) and not verify_password("wrong", first)
    assert not verify_password("s3cret", None) and not verify_password("s3cret", "garbage")


async def test_tokens_and_roles(api: Api) -> None:
    assert (await api.call("GET", "/api/tickets", None))[0] == 401
    assert (await api.call("GET", "/api/tickets", "not-a-token"))[0] == 401
    resp = await api.client.get("/api/tickets", headers={"Authorization": "Basic abc"})
    assert resp.status == 401
    _, token = await api.add_agent("ivan", ["orders"], ["uk"])
    assert (await api.ok("GET", "/api/me", token))["name"] == "ivan"
    # only the admin creates agents; names are unique; bad input is a 400, not a traceback
    status, doc = await api.call("POST", "/api/agents", token, {"name": "x", "skills": []})
    assert status == 403 and "admin" in doc["error"]
    status, doc = await api.call("POST", "/api/agents", ADMIN, {"name": "ivan"})
    assert status == 400 and "exists" in doc["error"]
    status, doc = await api.call("POST", "/api/agents", ADMIN, {"name": "y", "skills": "a"})
    assert status == 400
    resp = await api.client.post(
        "/api/agents", data=b"{not json", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert resp.status == 400 and "JSON" in (await resp.json())["error"]
    status, _ = await api.call("POST", "/api/tickets/999999/claim", token)
    assert status == 404


async def test_agent_sees_only_their_queues(api: Api) -> None:
    _, orders = await api.add_agent("orders-uk", ["orders"], ["uk"], max_tickets=1)
    _, bookings = await api.add_agent("bookings-en", ["bookings"], ["en"])
    _, boss = await api.add_agent("boss", [], ["uk", "en"], role="supervisor", online=False)
    await api.rest("vis-1", "покличте людину")  # general/uk: nobody's skill
    await api.rest("vis-2", "where is my order?")
    await api.rest("vis-2", "I want to talk to a person")  # orders/en
    all_tickets = await api.tickets(boss)
    assert len(all_tickets) == 2 and all_tickets == await api.tickets(ADMIN)
    assert await api.tickets(orders) == []
    assert await api.tickets(bookings) == []
    for ticket in all_tickets:
        status, _ = await api.call("GET", f"/api/tickets/{ticket['id']}", orders)
        assert status == 403
        status, _ = await api.call("POST", f"/api/tickets/{ticket['id']}/claim", bookings)
        assert status == 403
    # a supervisor can take any ticket and hand it to an agent's queue
    general = next(t for t in all_tickets if t["queue"]["topic"] == "general")
    moved = await api.ok(
        "POST", f"/api/tickets/{general['id']}/transfer", boss, {"topic": "orders"}
    )
    assert moved["queue"]["topic"] == "orders" and moved["status"] == "offered"
    [mine] = await api.tickets(orders)
    assert mine["id"] == general["id"]
    await api.ok("POST", f"/api/tickets/{mine['id']}/claim", orders)
    status, _ = await api.call(
        "POST", f"/api/tickets/{mine['id']}/messages", bookings, {"text": "hi"}
    )
    assert status == 403


async def test_console_cookie_login_csrf_and_logout(api: Api) -> None:
    await api.add_agent("maria", ["orders"], ["uk"], password="correct horse", online=False)
    resp = await api.client.post("/console/login", data={"name": "maria", "password": "nope"})
    assert resp.status == 401
    resp = await api.client.post(
        "/console/login", data={"name": "maria", "password": "correct horse"}
    )
    assert resp.status == 200
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    csrf = (await resp.json())["csrf_token"]
    # the test client keeps the cookie: reads work, writes need the CSRF header
    me = await api.client.get("/api/me")
    assert me.status == 200 and (await me.json())["csrf_token"] == csrf
    denied = await api.client.post("/api/me/status", json={"status": "online"})
    assert denied.status == 403 and "CSRF" in (await denied.json())["error"]
    wrong = await api.client.post(
        "/api/me/status", json={"status": "online"}, headers={"X-CSRF-Token": "x" * 43}
    )
    assert wrong.status == 403
    ok = await api.client.post(
        "/api/me/status", json={"status": "online"}, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status == 200
    assert (await api.client.post("/console/logout")).status == 403
    out = await api.client.post("/console/logout", headers={"X-CSRF-Token": csrf})
    assert out.status == 200
    api.client.session.cookie_jar.clear()
    assert (await api.client.get("/api/me")).status == 401
