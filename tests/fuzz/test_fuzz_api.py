"""Fuzzing every JSON API through the real gateway, on both backends: each route under /api/ of
the application's router (the agent, admin, events, metrics, audit, privacy and legal hold
APIs, and whatever is added later) gets odd path ids, query strings and bodies from every kind
of caller. For every request: no 5xx, an answer within the deadline (no hang), a JSON error on a
refusal, and nothing stored from a refused (4xx) request (rows of every table counted before
and after).

`make test` runs a bounded number of examples per route; `make fuzz` raises it with
OMNIRELAY_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.fakes import wait_until
from tests.fuzz._api import (
    FUZZ,
    JSON,
    STREAMS,
    Api,
    Route,
    api_routes,
    call,
    from_schema,
    operations,
    path_value,
    query_params,
)

ROUTES = api_routes()
DOCUMENTED = {(m, p): op for m, p, op in operations()}
CALLERS = ["admin-token", "admin", "supervisor", "agent", "none", "wrong"]


def body_schema(route: Route) -> dict[str, Any] | None:
    op = DOCUMENTED.get((route.method, route.path), {})
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    return content.get("schema") if content else None


def bodies(route: Route) -> st.SearchStrategy[tuple[str, bytes | None]]:
    """(content type, bytes): nothing, arbitrary JSON, not JSON, or a body the document says
    is valid (and then one field of it made odd)."""
    raw = st.binary(max_size=200) | st.sampled_from(
        [b"{", b"[]", b"\xff\xfe", b"null", b'{"a":' * 200]
    )
    choices = [
        st.just(("application/json", None)),
        JSON.map(lambda doc: ("application/json", json.dumps(doc).encode())),
        raw.map(lambda b: ("application/json", b)),
        raw.map(lambda b: ("text/plain", b)),
    ]
    schema = body_schema(route)
    if schema is not None:
        valid = from_schema(schema).map(lambda doc: ("application/json", json.dumps(doc).encode()))
        choices.append(valid)
        choices.append(st.tuples(from_schema(schema), st.text(max_size=10), JSON).map(_spoil))
    return st.one_of(choices)


def _spoil(drawn: tuple[Any, str, Any]) -> tuple[str, bytes]:
    doc, key, value = drawn
    if isinstance(doc, dict):
        doc = {**doc, (next(iter(doc)) if doc else key): value}
    return "application/json", json.dumps(doc).encode()


def headers_for(api: Api, caller: str, content_type: str) -> dict[str, str]:
    headers = {"Content-Type": content_type}
    if caller == "wrong":
        headers["Authorization"] = "Bearer not-a-token"
    elif caller != "none":
        headers["Authorization"] = f"Bearer {api.tokens[caller]}"
    return headers


async def finished(api: Api, answer: bytes) -> None:
    """An erasure this request started has run to its end (it works in the background)."""
    try:
        doc = json.loads(answer)
    except ValueError:
        return
    if not (isinstance(doc, dict) and doc.get("state") in ("pending", "running") and "id" in doc):
        return
    url = f"/api/erasures/{doc['id']}"
    admin = headers_for(api, "admin-token", "application/json")

    async def ended() -> bool:
        _, body, _ = await call(api, "GET", url, headers=admin)
        return json.loads(body).get("state") in ("done", "failed")

    await wait_until(ended, timeout=30, what="the erasure ended")


async def settled(api: Api) -> dict[str, int]:
    """Row counts once they stop moving (a 2xx write may have started background work, such as
    an erasure job)."""
    last: list[dict[str, int]] = [await api.counts()]

    async def steady() -> bool:
        now = await api.counts()
        same = now == last[-1]
        last.append(now)
        return same

    await wait_until(steady, timeout=30, interval=0.02, what="row counts steady")
    return last[-1]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
@FUZZ
@given(data=st.data())
async def test_no_request_hurts_the_api(api: Api, route: Route, data: st.DataObject) -> None:
    caller = data.draw(st.sampled_from(CALLERS), label="caller")
    if (route.method, route.path) in STREAMS and caller not in ("none", "wrong"):
        caller = "wrong"  # an allowed caller would get the endless stream
    url = route.path
    for name in route.params:
        url = url.replace("{" + name + "}", quote(data.draw(path_value(api), label=name), safe=""))
    op = DOCUMENTED.get((route.method, route.path), {})
    names = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
    query = data.draw(query_params(names), label="query")
    content_type, body = data.draw(bodies(route), label="body")
    before = await api.counts()
    status, answer, answer_type = await call(
        api,
        route.method,
        url,
        params=query,
        data=body,
        headers=headers_for(api, caller, content_type),
    )
    event(f"{status}")
    assert status < 500, answer[:500]
    if 400 <= status < 500:
        assert answer_type == "application/json", answer[:200]
        assert "error" in json.loads(answer), answer[:200]
        assert await api.counts() == before, f"a refused request ({status}) stored something"
    elif route.method != "GET":
        await finished(api, answer)
        await settled(api)


def test_every_api_route_is_fuzzed() -> None:
    """The table really is the router's: the routes of every API are in it."""
    paths = {(r.method, r.path) for r in ROUTES}
    for expected in [
        ("GET", "/api/tickets/{id}"),
        ("POST", "/api/events"),
        ("GET", "/api/customers/{id}/transcript"),
        ("GET", "/api/metrics/summary"),
        ("GET", "/api/openapi.json"),
    ]:
        assert expected in paths


ODD_IDS = [
    "9223372036854775808",
    "9223372036854775807",
    "-9223372036854775809",
    "-1",
    "0",
    "1" * 30,
    "-" + "1" * 30,
    "1e3",
    "%20",
]


async def test_odd_ids_are_refused_not_crashed(api: Api) -> None:
    """Ids past a 64-bit integer (PostgreSQL's BIGINT) and other odd ones, on every route with
    an id, from every caller that may call it: never a 5xx, never stored."""
    failures = []
    for route in ROUTES:
        if not route.params or (route.method, route.path) in STREAMS:
            continue
        for odd in ODD_IDS:
            url = route.path
            for name in route.params:
                url = url.replace("{" + name + "}", odd)
            before = await api.counts()
            status, answer, _ = await call(
                api,
                route.method,
                url,
                json={},
                headers=headers_for(api, "admin", "application/json"),
            )
            admin_token = headers_for(api, "admin-token", "application/json")
            status2, answer2, _ = await call(api, route.method, url, json={}, headers=admin_token)
            for got, body in ((status, answer), (status2, answer2)):
                if got >= 500 or (got >= 400 and await api.counts() != before):
                    failures.append(f"{route.method} {url}: {got} {body[:120]!r}")
    assert failures == [], "\n".join(failures)


def _with_nul(schema: dict[str, Any]) -> Any:
    """A body shaped as `schema` asks, every string in it carrying a NUL (PostgreSQL's text
    cannot hold one)."""
    kind = schema.get("type", "object")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _with_nul(v) for k, v in props.items()}
    if kind == "array":
        return [_with_nul(schema.get("items", {"type": "string"}))]
    if kind == "integer":
        return 1
    if kind == "boolean":
        return True
    return "a\x00b"


async def test_a_nul_in_a_query_or_body_is_refused_not_crashed(api: Api) -> None:
    failures = []
    admin = headers_for(api, "admin-token", "application/json")
    for route in ROUTES:
        if (route.method, route.path) in STREAMS:
            continue
        url = route.path
        for name in route.params:
            url = url.replace("{" + name + "}", str(api.customers[0]))
        op = DOCUMENTED.get((route.method, route.path), {})
        free = [
            p["name"]
            for p in op.get("parameters", [])
            if p.get("in") == "query" and set(p["schema"]) <= {"type", "maxLength"}
        ]
        schema = body_schema(route)
        body = json.dumps(_with_nul(schema) if schema else {}).encode()
        query = {n: "x\x00y" for n in free} or {"q": "\x00"}
        status, answer, _ = await call(
            api, route.method, url, params=query, data=body, headers=admin
        )
        if status >= 500:
            failures.append(f"{route.method} {url}: {status} {answer[:100]!r}")
    assert failures == [], "\n".join(failures)
