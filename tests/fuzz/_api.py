"""What the JSON API fuzz and OpenAPI tests share: the real gateway on either backend with a
few customers and agents, the route table read from the application's router, row counts of
every table, the OpenAPI document's schemas as plain JSON Schema, and request strategies."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from bots.app import create_app
from bots.config import Settings
from bots.demo import seed_demo
from handoff import auth
from handoff.openapi import document
from storage.db import Database
from storage.repositories.customers import CustomerRepository
from tests.channels._app import gateway, gateway_settings
from tests.conftest import drop_postgres_database, fresh_postgres_database

EXAMPLES = int(os.environ.get("OMNIRELAY_FUZZ_EXAMPLES", "10"))
#: the Hypothesis settings of every test here: one gateway serves all of a test's examples (a
#: function-scoped fixture, on purpose); no deadline (a busy machine), no example database
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
ADMIN = "admin-token-of-the-fuzz-tests"
TIMEOUT = 15.0  # seconds one request may take: past it, a hang
Client = TestClient[web.Request, web.Application]
#: routes that answer a stream while the caller is allowed: fuzzed with refused callers only
STREAMS = frozenset({("GET", "/api/events")})


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str  # aiohttp's canonical form, e.g. /api/tickets/{id}

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


def api_routes(app: web.Application | None = None) -> list[Route]:
    """Every route under /api/ of the real application (HEAD left out): the table that drives
    the fuzz, so a route added tomorrow is fuzzed without a line here."""
    if app is None:
        app = create_app(Settings(_env_file=None, admin_token=ADMIN), role="gateway")  # type: ignore[call-arg]
    found: list[Route] = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method == "HEAD":
            continue
        path = resource.canonical
        if path.startswith("/api/") and Route(route.method, path) not in found:
            found.append(Route(route.method, path))
    return sorted(found, key=lambda r: (r.path, r.method))


@dataclass
class Api:
    """The running gateway, its database, and who may call it."""

    client: Client
    db: Database
    customers: list[int]
    tokens: dict[str, str] = field(default_factory=dict)  # caller kind -> bearer token

    async def counts(self) -> dict[str, int]:
        """Rows of every table (one query)."""
        async with self.db.session() as s:
            conn = await s.connection()
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
            parts = [f"SELECT '{n}', COUNT(*) FROM \"{n}\"" for n in sorted(names)]
            rows = (await s.execute(text(" UNION ALL ".join(parts)))).all()
        return {str(name): int(n) for name, n in rows}


async def _seed(db: Database) -> tuple[list[int], dict[str, str]]:
    await seed_demo(db)
    now = dt.datetime.now(dt.UTC)
    customers = []
    async with db.transaction() as s:
        repo = CustomerRepository(s)
        for i in range(3):
            customer, _ = await repo.resolve_identity("telegram", f"fuzz-{i}", now=now)
            customers.append(customer.id)
    tokens = {"admin-token": ADMIN}
    for role in ("agent", "supervisor", "admin"):
        _, token = await auth.create_agent(db, f"fuzz {role}", role=role, skills=["general"])
        tokens[role] = token
    return customers, tokens


@pytest.fixture(
    params=["embedded", pytest.param("scaleout", marks=[pytest.mark.redis, pytest.mark.postgres])]
)
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The gateway on SQLite and memory, or on PostgreSQL and Redis, seeded."""
    template: Path = request.getfixturevalue("_sqlite_template")
    overrides: dict[str, Any] = {"admin_token": ADMIN}
    pg: tuple[str, str] | None = None
    if request.param == "scaleout":
        postgres_url: str = request.getfixturevalue("postgres_url")
        pg = fresh_postgres_database(postgres_url, request.getfixturevalue("_postgres_template"))
        overrides |= {"database_url": pg[1], "redis_url": request.getfixturevalue("redis_url")}
    else:
        path = tmp_path / f"fuzz-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(template, path)
        overrides["database_url"] = f"sqlite+aiosqlite:///{path}"
    settings = gateway_settings(template, tmp_path, "http://127.0.0.1:9", **overrides)
    db = Database(settings.database_url)
    try:
        customers, tokens = await _seed(db)
        async with gateway(settings) as client:
            yield Api(client, db, customers, tokens)
    finally:
        await db.dispose()
        if pg is not None:
            drop_postgres_database(request.getfixturevalue("postgres_url"), pg[0])


async def call(api: Api, method: str, url: str, **kw: Any) -> tuple[int, bytes, str]:
    """One request with a deadline (a hang fails); returns status, body and content type."""

    async def go() -> tuple[int, bytes, str]:
        async with api.client.request(method, url, allow_redirects=False, **kw) as resp:
            return resp.status, await resp.read(), resp.content_type

    return await asyncio.wait_for(go(), TIMEOUT)


# ---- the OpenAPI document as plain JSON Schema ------------------------------------------------


def resolve(node: Any, doc: dict[str, Any] | None = None) -> Any:
    """`node` with every `$ref` inlined and OpenAPI's `nullable` as a JSON Schema type list."""
    doc = doc or document()
    if isinstance(node, list):
        return [resolve(n, doc) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return resolve(target, doc)
    out = {k: resolve(v, doc) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) of every operation in the document (path-level parameters
    folded into each operation)."""
    found = []
    for path, item in document()["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters":
                continue
            merged = {**op, "parameters": [*shared, *op.get("parameters", [])]}
            found.append((method.upper(), path, resolve(merged)))
    return found


# ---- strategies -------------------------------------------------------------------------------

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
WEIRD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e999",
        "NaN",
        "null",
        "99999999999999999999999",
        "\u0000",
        "%00",
        "../",
        "<script>",
        "😀" * 3,
        "a" * 1500,
    ]
) | st.text(max_size=60)


def path_value(api: Api) -> st.SearchStrategy[str]:
    known = [str(c) for c in api.customers] + ["1", "2", "0"]
    return st.sampled_from(known) | st.integers(-(2**64), 2**64).map(str) | WEIRD_TEXT


def query_params(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    keys = (
        st.sampled_from([*names, "x", "limit", "cursor"])
        if names
        else st.sampled_from(["x", "limit"])
    )
    return st.dictionaries(keys, WEIRD_TEXT | st.integers(-(2**40), 2**40).map(str), max_size=4)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for the small part of JSON Schema the document uses (hypothesis-jsonschema
    relies on Hypothesis internals that this Hypothesis no longer has)."""
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            merged["properties"] |= part.get("properties", {})
            merged["required"] += part.get("required", [])
        return from_schema(merged)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}) for k in kind])
    return _BY_TYPE[kind](schema)


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    if schema.get("format") == "date-time":
        return st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.isoformat())
    if schema.get("format") == "date":
        return st.dates().map(lambda d: d.isoformat())
    low, high = schema.get("minLength", 0), schema.get("maxLength", 60)
    return st.text(min_size=low, max_size=min(high, 60)).filter(lambda s: len(s.strip()) >= low)


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    props: dict[str, Any] = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in props]
    optional = [k for k in props if k not in required]
    fixed = st.fixed_dictionaries(
        {k: from_schema(props[k]) for k in required},
        optional={k: from_schema(props[k]) for k in optional},
    )
    return fixed if props else st.dictionaries(st.text(max_size=8), JSON_LEAVES, max_size=3)


_BY_TYPE: dict[str, Any] = {
    "object": _object,
    "string": _string,
    "integer": lambda s: st.integers(s.get("minimum", -(2**31)), s.get("maximum", 2**31)),
    "number": lambda s: st.floats(allow_nan=False, allow_infinity=False),
    "boolean": lambda s: st.booleans(),
    "null": lambda s: st.none(),
    "array": lambda s: st.lists(from_schema(s.get("items", {"type": "string"})), max_size=3),
}
