"""The REST channel: answers with the replies once the message is processed."""

from __future__ import annotations

import asyncio

from tests.bots.conftest import Service


async def test_rest_round_trip(service: Service) -> None:
    resp = await service.rest("rest-user-1", "hi")
    assert resp.status == 200
    body = await resp.json()
    assert len(body["replies"]) == 1
    reply = body["replies"][0]
    assert reply["text"]
    assert {"title", "payload"} <= set(reply["buttons"][0])


async def test_rest_buttons_and_order_flow(service: Service) -> None:
    user = "rest-user-2"
    first = await (await service.rest(user, payload="/check_order_status")).json()
    assert "order number" in first["replies"][0]["text"]
    second = await (await service.rest(user, "A1002")).json()
    assert "A1002" in second["replies"][0]["text"]
    assert "delivered" in second["replies"][0]["text"]


async def test_rest_validation_errors(service: Service) -> None:
    cases = [
        b"not json",
        b"[]",
        b'{"text": "no sender"}',
        b'{"sender": "x"}',
        b'{"sender": "x", "text": 5}',
    ]
    for body in cases:
        resp = await service.client.post("/webhooks/rest", data=body)
        assert resp.status == 400, body
        assert "error" in await resp.json()


async def test_rest_duplicate_message_id(service: Service) -> None:
    first = await service.rest("rest-user-3", "hi", message_id="m-1")
    assert first.status == 200
    again = await service.rest("rest-user-3", "hi", message_id="m-1")
    assert again.status == 409


async def test_rest_replies_in_order_for_one_sender(service: Service) -> None:
    user = "rest-user-4"
    numbers = ["A1001", "A1002", "A1003", "A1005"]
    responses = await asyncio.gather(*(service.rest(user, f"order {n}") for n in numbers))
    texts = [(await r.json())["replies"][0]["text"] for r in responses]
    for number, text in zip(numbers, texts, strict=True):
        assert number in text


async def test_rest_token_required_when_configured(make_settings, fake_telegram) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from bots.app import create_app

    settings = make_settings(rest_token="s3cret")
    async with TestClient(TestServer(create_app(settings))) as client:
        denied = await client.post("/webhooks/rest", json={"sender": "a", "text": "hi"})
        assert denied.status == 401
        ok = await client.post(
            "/webhooks/rest",
            json={"sender": "a", "text": "hi"},
            headers={"Authorization": "Bearer s3cret"},
        )
        assert ok.status == 200


async def test_health_and_readiness(service: Service) -> None:
    assert (await service.client.get("/healthz")).status == 200
    ready = await service.client.get("/readyz")
    body = await ready.json()
    assert ready.status == 200, body
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["nlu"] == "ok"
    if service.settings.redis_url:
        assert body["checks"]["redis"] == "ok"
    metrics = await service.client.get("/metrics")
    assert metrics.status == 200
    assert "omnirelay_inbound_total" in await metrics.text()
