"""`/metrics` through the real entry points: webhooks from the fake Telegram, replies to it,
its failures; scraped and parsed as Prometheus would."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bots.conftest import Service, new_chat_id, new_update_id
from tests.fakes import wait_until
from tests.fakes.telegram import FakeTelegram, text_update
from tests.observability.conftest import Start
from tests.observability.scrape import Samples, scrape

TIMEOUT = 30.0  # generous: a loaded machine, not an expectation of speed


async def scraped_until(service: Service, check: Any, what: str) -> Samples:
    """Scrape until ``check(samples)`` holds; the last scrape."""

    async def ready() -> Samples | None:
        samples = await scrape(service.client)
        return samples if check(samples) else None

    found: Samples = await wait_until(ready, timeout=TIMEOUT, interval=0.05, what=what)
    return found


async def test_a_message_counts_in_and_out_with_its_latency_and_a_duplicate_is_dropped(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    chat = new_chat_id()
    update = text_update(chat, "hello", update_id=new_update_id())
    assert (await service.telegram(update)).status == 200
    samples = await scraped_until(
        service,
        lambda s: s.value("omnirelay_replies_sent_total", channel="telegram") >= 1,
        "the reply counted as sent",
    )
    assert len(fake_telegram.sent_messages(chat_id=chat)) >= 1
    assert samples.value("omnirelay_inbound_total", channel="telegram") == 1
    assert samples.value("omnirelay_processed_total", channel="telegram") == 1
    assert samples.value("omnirelay_replies_sent_total", channel="telegram", sender="bot") >= 1
    # one message, one latency: from the webhook's accept to its first reply sent
    assert samples.value("omnirelay_reply_latency_seconds_count", channel="telegram") == 1
    assert samples.value("omnirelay_reply_latency_seconds_sum", channel="telegram") > 0
    assert samples.value("omnirelay_replies_failed_total") == 0

    assert (await service.telegram(update)).status == 200  # the platform's retry
    samples = await scrape(service.client)
    assert samples.value("omnirelay_duplicates_total", channel="telegram") == 1
    assert samples.value("omnirelay_inbound_total", channel="telegram") == 1

    drained = await scraped_until(
        service, lambda s: s.value("omnirelay_queue_depth") == 0, "the queue drained"
    )
    assert drained.value("omnirelay_queue_oldest_age_seconds") == 0
    assert drained.value("omnirelay_outbox_in_flight") == 0


async def test_fallbacks_and_handoffs_by_reason(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    """Two misses in a row hand the chat to a person ("misses"); asking for one, "request"."""
    confused, asking = new_chat_id(), new_chat_id()
    for n, text in enumerate(("qwzx plorfen", "vrrkt zomblat"), start=1):
        await service.telegram(text_update(confused, text, update_id=new_update_id()))
        await fake_telegram.wait_for(
            lambda n=n: len(fake_telegram.sent_messages(chat_id=confused)) >= n, timeout=TIMEOUT
        )
    await service.telegram(
        text_update(asking, "i want to talk to a human", update_id=new_update_id())
    )
    samples = await scraped_until(
        service,
        lambda s: s.value("omnirelay_handoffs_total") >= 2,
        "two tickets counted",
    )
    assert samples.value("omnirelay_handoffs_total", reason="misses") == 1
    assert samples.value("omnirelay_handoffs_total", reason="request") == 1
    # both were answered as not understood (the second with the handoff): two fallbacks, the
    # dialogue's reading, whatever the model took them for (a made-up word may read as a
    # value, "inform"; `omnirelay_intents_total` keeps the model's readings)
    assert samples.value("omnirelay_nlu_fallbacks_total", channel="telegram") == 2
    assert samples.value("omnirelay_intents_total") == 3  # the model read all three


FAILURES = [
    # (the fake's answers to sendMessage, the settings, what ends the reply, attempts' results)
    pytest.param(
        {"status": 500, "count": 2},
        {"send_max_attempts": 2},
        "server_error",
        {"transient": 2},
        id="500-until-given-up",
    ),
    pytest.param(
        {"status": 429, "retry_after": 5},
        {"send_max_retry_after": 1.0},
        "rate_limited",
        {"rate_limited": 1},
        id="429-longer-than-allowed",
    ),
    pytest.param({"status": 403}, {}, "unreachable", {"unreachable": 1}, id="403-blocked"),
    pytest.param({"status": 400}, {}, "rejected", {"failed": 1}, id="400-rejected"),
]


@pytest.mark.parametrize("mode", ["embedded"])  # the sender's outcomes, not storage's
@pytest.mark.parametrize(("answers", "settings", "cause", "attempts"), FAILURES)
async def test_a_reply_given_up_counts_by_cause(
    start: Start,
    fake_telegram: FakeTelegram,
    answers: dict[str, Any],
    settings: dict[str, Any],
    cause: str,
    attempts: dict[str, int],
) -> None:
    async with start(**settings) as service:
        fake_telegram.fail_next("sendMessage", **answers)
        chat = new_chat_id()
        await service.telegram(text_update(chat, "hello", update_id=new_update_id()))
        samples = await scraped_until(
            service,
            lambda s: s.value("omnirelay_replies_failed_total") >= 1,
            f"a reply given up ({cause})",
        )
    assert samples.labels("omnirelay_replies_failed_total", "cause") == {cause}
    assert samples.value("omnirelay_replies_failed_total", channel="telegram", cause=cause) == 1
    for result, count in attempts.items():
        assert samples.value("omnirelay_sent_total", channel="telegram", result=result) == count
    assert samples.value("omnirelay_replies_sent_total") == 0
    assert samples.value("omnirelay_reply_latency_seconds_count") == 0


@pytest.mark.parametrize("mode", ["embedded"])
async def test_a_500_then_a_200_counts_the_failed_attempt_and_one_reply(
    service: Service, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next("sendMessage", status=500)
    chat = new_chat_id()
    await service.telegram(text_update(chat, "hello", update_id=new_update_id()))
    samples = await scraped_until(
        service,
        lambda s: s.value("omnirelay_replies_sent_total") >= 1,
        "the retried reply sent",
    )
    assert samples.value("omnirelay_sent_total", channel="telegram", result="transient") == 1
    assert samples.value("omnirelay_replies_failed_total") == 0
    assert samples.value("omnirelay_reply_latency_seconds_count", channel="telegram") == 1


async def test_the_gateways_metrics_show_what_waits_in_the_queue(
    start: Start, fake_telegram: FakeTelegram
) -> None:
    """A gateway without a worker: the message waits, and `/metrics` says how many and for
    how long (in memory, and in the Redis streams every gateway and worker reads)."""
    async with start(role="gateway") as gateway:
        empty = await scrape(gateway.client)
        assert empty.value("omnirelay_queue_depth") == 0
        assert empty.value("omnirelay_queue_oldest_age_seconds") == 0
        for chat in (new_chat_id(), new_chat_id()):
            await gateway.telegram(text_update(chat, "hello", update_id=new_update_id()))
        waiting = await scraped_until(
            gateway,
            lambda s: s.value("omnirelay_queue_oldest_age_seconds") > 0,
            "the oldest message's age",
        )
        assert waiting.value("omnirelay_queue_depth") == 2
        assert waiting.value("omnirelay_inbound_total", channel="telegram") == 2
        later = await scraped_until(
            gateway,
            lambda s: (
                s.value("omnirelay_queue_oldest_age_seconds")
                > waiting.value("omnirelay_queue_oldest_age_seconds")
            ),
            "the age growing",
        )
        assert later.value("omnirelay_queue_depth") == 2
        # no worker here: no outbox and no scheduler to report
        assert "omnirelay_proactive_backlog " in later.text
        assert later.value("omnirelay_proactive_backlog") == 0
    assert fake_telegram.sent_messages() == []
