"""The token buckets behind both limits, on both backends (memory and Redis); only new
messages cost a token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bots.gateway.limits import limits_for
from storage.backends import Backends
from storage.rate_limits import Bucket, MemoryRateLimits
from tests.channels._app import gateway, gateway_settings, queued, signed
from tests.fakes.telegram import text_update


async def test_burst_then_one_notice_then_drops(backends: Backends) -> None:
    limits = limits_for(Bucket(3, 1e-6), backends, "inbound_rate")
    verdicts = [(await limits.take("telegram:1")).verdict for _ in range(6)]
    assert verdicts == ["allow"] * 3 + ["notify", "drop", "drop"]
    # another sender's bucket is its own
    assert (await limits.take("telegram:2")).verdict == "allow"
    refused = await limits.take("telegram:1")
    assert refused.retry_after > 3600  # at a token a million seconds, the next is far away
    if backends.redis is not None and backends.keys is not None:
        ttl = await backends.redis.ttl(backends.keys.inbound_rate("telegram:1"))
        assert 0 < ttl <= 24 * 3600  # a quiet sender's bucket is forgotten


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_notice_comes_again_only_after_the_sender_slowed_down() -> None:
    clock = Clock()
    limits = MemoryRateLimits(Bucket(2, 1.0), clock=clock)
    assert [(await limits.take("k")).verdict for _ in range(4)] == [
        "allow",
        "allow",
        "notify",
        "drop",
    ]
    clock.now = 0.5  # half a token: still over
    assert (await limits.take("k")).verdict == "drop"
    clock.now = 1.0
    assert (await limits.take("k")).verdict == "allow"
    assert (await limits.take("k")).verdict == "notify"  # a new flood: a new notice
    clock.now = 100.0  # long quiet: full again, never more than the burst
    assert [(await limits.take("k")).verdict for _ in range(3)] == ["allow", "allow", "notify"]


def test_a_bucket_needs_a_burst_and_a_rate() -> None:
    with pytest.raises(ValueError):
        Bucket(0, 1.0)
    with pytest.raises(ValueError):
        Bucket(1, 0.0)


async def test_tokens_given_back_refill_only_up_to_the_burst(backends: Backends) -> None:
    limits = limits_for(Bucket(2, 1e-6), backends, "inbound_rate")
    assert [(await limits.take("k")).verdict for _ in range(3)] == ["allow", "allow", "notify"]
    await limits.give_back("k", 5)
    # (allowed again: a new flood, a new notice)
    assert [(await limits.take("k")).verdict for _ in range(3)] == ["allow", "allow", "notify"]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def redis_or_not(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("redis_url") if request.param == "redis" else None


async def test_a_redelivered_copy_costs_no_token(
    tmp_path: Path, _sqlite_template: Path, redis_or_not: str | None
) -> None:
    s = gateway_settings(
        _sqlite_template,
        tmp_path,
        "http://127.0.0.1:9",
        redis_url=redis_or_not,
        inbound_rate_burst=3,
        inbound_rate_per_minute=1e-6,
    )
    chat = 4242
    async with gateway(s) as client:
        path, headers = signed("telegram", b"")
        first = text_update(chat, "hello")
        for _ in range(5):  # the platform delivering one message again and again
            assert (await client.post(path, json=first, headers=headers)).status == 200
        for text in ("two", "three"):
            doc = text_update(chat, text)
            assert (await client.post(path, json=doc, headers=headers)).status == 200
        assert await queued(client) == 3  # three distinct messages: within the burst of 3
        assert (await client.post(path, json=text_update(chat, "4"), headers=headers)).status == 200
        assert await queued(client) == 3  # the fourth is over it: dropped, not stored


@pytest.mark.redis
async def test_gateways_on_one_redis_share_a_senders_bucket(
    tmp_path: Path, _sqlite_template: Path, redis_url: str, key_prefix: str, _redis_cleanup: None
) -> None:
    """Scale-out: a flood spread over two gateways is still one sender's flood."""

    def settings(name: str) -> Any:
        (tmp_path / name).mkdir()
        return gateway_settings(
            _sqlite_template,
            tmp_path / name,
            "http://127.0.0.1:9",
            redis_url=redis_url,
            redis_prefix=key_prefix,
            inbound_rate_burst=3,
            inbound_rate_per_minute=1e-6,
        )

    path, headers = signed("telegram", b"")
    async with gateway(settings("a")) as a, gateway(settings("b")) as b:
        for i in range(6):  # alternately to each gateway
            client = a if i % 2 == 0 else b
            doc = text_update(777, f"message {i}")
            assert (await client.post(path, json=doc, headers=headers)).status == 200
        assert await queued(a) == 3  # one Redis queue: three admitted in all, not three each
        other = text_update(778, "calm")
        assert (await client.post(path, json=other, headers=headers)).status == 200
        assert await queued(a) == 4
