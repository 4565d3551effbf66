"""The per-IP limit on POST /webhooks/rest and POST /api/events through the real gateway, on
both backends; X-Forwarded-For counts only from a trusted proxy. And a REST sender over the
per-sender limit is answered 429 (a synchronous client waits for an answer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.channels._app import REST_TOKEN, gateway, gateway_settings

AUTH = {"Authorization": f"Bearer {REST_TOKEN}"}


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def redis_or_not(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("redis_url") if request.param == "redis" else None


def settings(tmp_path: Path, template: Path, redis: str | None, **extra: Any) -> Any:
    return gateway_settings(
        template, tmp_path, "http://127.0.0.1:9", redis_url=redis, admin_token="adm", **extra
    )


async def test_rest_past_the_burst_gets_429_with_retry_after(
    tmp_path: Path, _sqlite_template: Path, redis_or_not: str | None
) -> None:
    s = settings(tmp_path, _sqlite_template, redis_or_not, rest_rate_burst=3)
    async with gateway(s) as client:
        statuses = []
        for _ in range(5):
            resp = await client.post("/webhooks/rest", json={}, headers=AUTH)  # a 400 body
            statuses.append(resp.status)
        assert statuses == [400, 400, 400, 429, 429]
        assert int(resp.headers["Retry-After"]) >= 1
        assert "too many" in (await resp.json())["error"]
        events = await client.post("/api/events", json={}, headers={"Authorization": "Bearer adm"})
        assert events.status == 429  # the same address's bucket covers the events API
        health = await client.get("/healthz")
        assert health.status == 200  # other paths are not limited


async def test_forwarded_for_counts_only_from_a_trusted_proxy(
    tmp_path: Path, _sqlite_template: Path, redis_or_not: str | None
) -> None:
    trusted = settings(
        tmp_path, _sqlite_template, redis_or_not, rest_rate_burst=1, trusted_proxies=["127.0.0.0/8"]
    )
    async with gateway(trusted) as client:
        for address in ("203.0.113.7", "203.0.113.8", "2001:db8::1"):
            xff = {**AUTH, "X-Forwarded-For": f"198.51.100.1, {address}"}
            first = await client.post("/webhooks/rest", json={}, headers=xff)
            second = await client.post("/webhooks/rest", json={}, headers=xff)
            assert (first.status, second.status) == (400, 429)
    untrusted = settings(tmp_path, _sqlite_template, redis_or_not, rest_rate_burst=1)
    async with gateway(untrusted) as client:
        statuses = [
            (
                await client.post(
                    "/webhooks/rest", json={}, headers={**AUTH, "X-Forwarded-For": f"203.0.113.{i}"}
                )
            ).status
            for i in range(3)
        ]
        assert statuses == [400, 429, 429]  # a forged header does not buy a fresh bucket


async def test_a_flooding_rest_sender_is_answered_429(
    tmp_path: Path, _sqlite_template: Path, redis_or_not: str | None
) -> None:
    s = settings(
        tmp_path, _sqlite_template, redis_or_not, inbound_rate_burst=2, inbound_rate_per_minute=1e-6
    )
    async with gateway(s) as client:
        statuses = []
        for i in range(4):
            body = {"sender": "flood", "text": f"hi {i}"}
            statuses.append((await client.post("/webhooks/rest", json=body, headers=AUTH)).status)
        # no worker here: the two admitted ones are accepted and time out (504)
        assert statuses == [504, 504, 429, 429]
        other = await client.post(
            "/webhooks/rest", json={"sender": "calm", "text": "hi"}, headers=AUTH
        )
        assert other.status == 504  # accepted: another sender is not held back
