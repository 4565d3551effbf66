"""The token buckets behind both limits, on both backends (memory and Redis)."""

from __future__ import annotations

import pytest

from bots.gateway.limits import limits_for
from storage.backends import Backends
from storage.rate_limits import Bucket, MemoryRateLimits


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
