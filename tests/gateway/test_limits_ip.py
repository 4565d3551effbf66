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


def behind(address: str, forged: str = "198.51.100.1") -> dict[str, str]:
    """Headers of a request the trusted proxy (this test's loopback) passes on for `address`,
    after whatever the client itself put in X-Forwarded-For (`forged`)."""
    return {**AUTH, "X-Forwarded-For": f"{forged}, {address}"}


async def test_rest_past_the_burst_gets_429_with_retry_after(
    tmp_path: Path, _sqlite_template: Path, redis_or_not: str | None
) -> None:
    s = settings(
        tmp_path, _sqlite_template, redis_or_not, rest_rate_burst=3, trusted_proxies=["127.0.0.1"]
    )
    async with gateway(s) as client:
        statuses = []
        for _ in range(5):  # a body that is refused (400) still counts
            resp = await client.post("/webhooks/rest", json={}, headers=behind("203.0.113.7"))
            statuses.append(resp.status)
        assert statuses == [400, 400, 400, 429, 429]
        assert int(resp.headers["Retry-After"]) >= 1
        assert "too many" in (await resp.json())["error"]
        events_auth = {"Authorization": "Bearer adm", "X-Forwarded-For": "203.0.113.7"}
        events = await client.post("/api/events", json={}, headers=events_auth)
        assert events.status == 429  # the same address's bucket covers the events API
        other = await client.post("/webhooks/rest", json={}, headers=behind("203.0.113.8"))
        assert other.status == 400  # another address has its own bucket
        health = await client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
        assert health.status == 200  # other paths are not limited


async def test_a_forged_forwarded_for_buys_no_fresh_bucket(
    tmp_path: Path, _sqlite_template: Path, redis_or_not: str | None
) -> None:
    s = settings(
        tmp_path, _sqlite_template, redis_or_not, rest_rate_burst=1, trusted_proxies=["127.0.0.0/8"]
    )
    async with gateway(s) as client:
        for address in ("203.0.113.7", "2001:db8::1"):
            statuses = [
                (
                    await client.post(
                        "/webhooks/rest", json={}, headers=behind(address, forged=f"10.0.0.{i}")
                    )
                ).status
                for i in range(3)
            ]
            assert statuses == [400, 429, 429]  # the client's own header is not believed


async def test_loopback_clients_are_not_limited(
    tmp_path: Path, _sqlite_template: Path, redis_or_not: str | None
) -> None:
    s = settings(tmp_path, _sqlite_template, redis_or_not, rest_rate_burst=1)
    async with gateway(s) as client:
        # not a trusted proxy: its X-Forwarded-For is ignored, and the peer is this host
        headers = {**AUTH, "X-Forwarded-For": "203.0.113.9"}
        statuses = [
            (await client.post("/webhooks/rest", json={}, headers=headers)).status for _ in range(4)
        ]
        assert statuses == [400] * 4


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
