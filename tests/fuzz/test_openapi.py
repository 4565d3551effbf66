"""The OpenAPI document (handoff/openapi.yaml, served at GET /api/openapi.json) against the
application: every /api/ route of the router is in it and every operation in it is a route;
it is well formed; and requests generated from it (path ids, query parameters and bodies as it
describes them, from each kind of caller) are answered, on both backends, with a status it
lists for the operation and a body that matches that status's schema."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from bots.app import create_app
from bots.config import Settings
from handoff.openapi import PATH, document
from tests.fuzz._api import (
    ADMIN,
    FUZZ,
    STREAMS,
    Api,
    api_routes,
    call,
    from_schema,
    operations,
    resolve,
)

OPERATIONS = operations()
CALLERS = ["admin-token", "admin", "supervisor", "agent"]


def documented() -> set[tuple[str, str]]:
    return {(method, path) for method, path, _ in OPERATIONS}


def test_every_api_route_is_documented_and_nothing_else() -> None:
    for role in ("all", "gateway"):
        app = create_app(Settings(_env_file=None, admin_token=ADMIN), role=role)  # type: ignore[call-arg]
        served = {(r.method, r.path) for r in api_routes(app)}
        assert sorted(served - documented()) == [], "routes missing from handoff/openapi.yaml"
        assert sorted(documented() - served) == [], "operations in the document with no route"


def test_the_document_is_well_formed() -> None:
    doc = document()
    assert re.fullmatch(r"3\.0\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    for method, path, op in OPERATIONS:
        where = f"{method} {path}"
        assert op.get("summary"), where
        assert op["responses"], where
        declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), where
        for status, response in op["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", status), where
            assert response.get("description"), f"{where} {status}"
            for media in response.get("content", {}).values():
                jsonschema.Draft7Validator.check_schema(media["schema"])


async def test_the_document_is_served_to_anyone(api: Api) -> None:
    status, body, content_type = await call(api, "GET", PATH)
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == document()


def request_for(op: dict[str, Any], api: Api) -> st.SearchStrategy[dict[str, Any]]:
    """Path values, query parameters and a body as the operation describes them."""
    ids = st.sampled_from([str(c) for c in api.customers] + ["1", "2"]) | st.integers(0, 10**6).map(
        str
    )
    path = {p["name"]: ids for p in op["parameters"] if p["in"] == "path"}
    required = {
        p["name"]: from_schema(p["schema"]).map(str)
        for p in op["parameters"]
        if p["in"] == "query" and p.get("required")
    }
    optional = {
        p["name"]: from_schema(p["schema"]).map(str)
        for p in op["parameters"]
        if p["in"] == "query" and not p.get("required")
    }
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    body = from_schema(content["schema"]) if content else st.none()
    return st.fixed_dictionaries(
        {
            "path": st.fixed_dictionaries(path),
            "query": st.fixed_dictionaries(required, optional=optional),
            "body": body,
            "caller": st.sampled_from(CALLERS),
        }
    )


def _bool(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@pytest.mark.parametrize(
    ("method", "path", "op"),
    [o for o in OPERATIONS if (o[0], o[1]) not in STREAMS],
    ids=[f"{m} {p}" for m, p, _ in OPERATIONS if (m, p) not in STREAMS],
)
@FUZZ
@given(data=st.data())
async def test_answers_match_the_document(
    api: Api, method: str, path: str, op: dict[str, Any], data: st.DataObject
) -> None:
    drawn = data.draw(request_for(op, api), label="request")
    url = path
    for name, value in drawn["path"].items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    headers = {"Authorization": f"Bearer {api.tokens[drawn['caller']]}"}
    kw: dict[str, Any] = {"params": drawn["query"], "headers": headers}
    if drawn["body"] is not None:
        kw["json"] = drawn["body"]
    status, body, content_type = await call(api, method, url, **kw)
    event(f"{status}")
    responses = op["responses"]
    assert str(status) in responses, f"{status} is not in the document: {body[:300]!r}"
    content = responses[str(status)].get("content", {})
    assert content_type in content, f"{content_type} is not documented for {status}"
    if content_type == "application/json":
        jsonschema.validate(json.loads(body), content[content_type]["schema"])


async def test_the_event_stream_refuses_strangers(api: Api) -> None:
    (op,) = [o for m, p, o in OPERATIONS if (m, p) == ("GET", "/api/events")]
    status, body, _ = await call(api, "GET", "/api/events")
    assert str(status) in op["responses"] and status == 401
    jsonschema.validate(
        json.loads(body), resolve(op["responses"]["401"])["content"]["application/json"]["schema"]
    )
