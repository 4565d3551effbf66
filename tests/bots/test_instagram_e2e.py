"""Instagram Direct end to end: Meta-signed webhooks in through `/webhooks/instagram` of the real
app, Send API calls out at the fake Graph API, both backends."""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bots.messages import OutboundMessage, encode_outbound, now_utc
from storage.db import Database
from storage.models import ChannelIdentity, Message
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from tests.bots.conftest import IG_APP_SECRET, IG_VERIFY_TOKEN, Service
from tests.fakes import instagram as ig
from tests.fakes import wait_until
from tests.fakes.instagram import FakeInstagram


def _hmac(body: bytes) -> str:
    return hmac.new(IG_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def new_igsid() -> str:
    return str(10**15 + uuid.uuid4().int % 10**15)


def text_from(sender: str, text: str, **extra: Any) -> dict[str, Any]:
    return ig.body(ig.entry(ig.message(text, sender=sender, **extra)))


async def rows_of(service: Service, igsid: str) -> list[Message]:
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            customer = await CustomerRepository(s).find_by_identity("instagram", igsid)
            if customer is None:
                return []
            return list(await MessageRepository(s).transcript(customer.id))
    finally:
        await db.dispose()


async def wait_rows(service: Service, igsid: str, statuses: list[str]) -> list[Message]:
    async def check() -> list[Message] | None:
        rows = await rows_of(service, igsid)
        return rows if [r.status for r in rows] == statuses else None

    found: list[Message] = await wait_until(check, timeout=10, what=f"rows {statuses}")
    return found


def sent_to(fake: FakeInstagram, igsid: str) -> list[dict[str, Any]]:
    return [b for b in fake.sent() if b["recipient"]["id"] == igsid]


def calls_to(fake: FakeInstagram, igsid: str) -> list[int]:
    return [c.status for c in fake.calls if c.body.get("recipient", {}).get("id") == igsid]


async def test_subscription_verification(service: Service) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": IG_VERIFY_TOKEN, "hub.challenge": "1158"}
    ok = await service.client.get("/webhooks/instagram", params=query)
    assert ok.status == 200 and await ok.text() == "1158"
    wrong = await service.client.get(
        "/webhooks/instagram", params={**query, "hub.verify_token": "guess"}
    )
    assert wrong.status == 403


async def test_text_gets_a_reply_with_quick_replies(
    service: Service, fake_instagram: FakeInstagram
) -> None:
    user = new_igsid()
    resp = await service.instagram(text_from(user, "hello"))
    assert resp.status == 200
    await fake_instagram.wait_for(where=lambda c: c.body.get("recipient", {}).get("id") == user)
    (sent,) = sent_to(fake_instagram, user)
    assert sent["messaging_type"] == "RESPONSE"
    assert "order" in sent["message"]["text"].lower()
    quick = sent["message"]["quick_replies"]
    assert all(q["content_type"] == "text" and len(q["title"]) <= 20 for q in quick)
    assert "/check_order_status" in [q["payload"] for q in quick]
    call = fake_instagram.calls[-1]
    assert call.path == f"/v21.0/{ig.ACCOUNT_ID}/messages"
    assert call.headers["Authorization"].startswith("Bearer ")
    rows = await wait_rows(service, user, ["received", "sent"])
    assert rows[1].platform_message_id  # the Send API's message_id is kept


async def test_ukrainian_text_signed_over_escaped_bytes(
    service: Service, fake_instagram: FakeInstagram
) -> None:
    user = new_igsid()
    # Meta sends non-ASCII as \u escapes and signs those bytes
    signed = ig.sign(IG_APP_SECRET, text_from(user, "де моє замовлення A1001"))
    assert b"\\u0434" in signed.body
    resp = await service.client.post(
        "/webhooks/instagram", data=signed.body, headers=signed.headers
    )
    assert resp.status == 200
    await fake_instagram.wait_for(where=lambda c: c.body.get("recipient", {}).get("id") == user)
    text = sent_to(fake_instagram, user)[0]["message"]["text"]
    assert "A1001" in text and "в дорозі" in text


async def test_quick_reply_and_postback_payloads(
    service: Service, fake_instagram: FakeInstagram
) -> None:
    user = new_igsid()
    tap = text_from(user, "Check my order", quick_reply={"payload": "/check_order_status"})
    await service.instagram(tap)
    await wait_rows(service, user, ["received", "sent"])
    assert "order number" in sent_to(fake_instagram, user)[0]["message"]["text"]
    await service.instagram(text_from(user, "stop"))
    await wait_rows(service, user, ["received", "sent"] * 2)
    postback = ig.postback("Check my order", "/check_order_status")
    postback["sender"] = {"id": user}
    await service.instagram(ig.body(ig.entry(postback)))
    rows = await wait_rows(service, user, ["received", "sent"] * 3)
    assert rows[0].payload == rows[4].payload == "/check_order_status"
    assert "order number" in sent_to(fake_instagram, user)[2]["message"]["text"]


async def test_duplicate_mid_one_reply(service: Service, fake_instagram: FakeInstagram) -> None:
    user = new_igsid()
    doc = text_from(user, "hi")
    assert (await service.instagram(doc)).status == 200
    assert (await service.instagram(doc)).status == 200  # Meta retries
    await service.instagram(text_from(user, "thanks"))
    await wait_rows(service, user, ["received", "sent", "received", "sent"])
    assert len(sent_to(fake_instagram, user)) == 2


async def test_bad_signature_is_rejected_and_nothing_enqueued(
    service: Service, fake_instagram: FakeInstagram
) -> None:
    user = new_igsid()
    doc = text_from(user, "hi")
    assert (await service.instagram(doc, app_secret="another-app")).status == 403
    signed = ig.sign(IG_APP_SECRET, doc)
    legacy_only = {"X-Hub-Signature": signed.headers["X-Hub-Signature"]}
    resp = await service.client.post("/webhooks/instagram", data=signed.body, headers=legacy_only)
    assert resp.status == 403
    # re-serialised JSON (unescaped UTF-8) is not what Meta signed
    reserialised = await service.client.post(
        "/webhooks/instagram",
        data=signed.body.replace(b'"hi"', b'"hi" '),
        headers=signed.headers,
    )
    assert reserialised.status == 403
    assert (await service.instagram(doc)).status == 200
    await wait_rows(service, user, ["received", "sent"])
    assert len(sent_to(fake_instagram, user)) == 1


async def test_malformed_and_unknown_items_never_crash(
    service: Service, fake_instagram: FakeInstagram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def post_raw(body: bytes) -> Any:
        return await service.client.post(
            "/webhooks/instagram",
            data=body,
            headers={"X-Hub-Signature-256": "sha256=" + _hmac(body)},
        )

    assert (await post_raw(b"{not json")).status == 400
    assert (await service.instagram({"object": "page", "entry": []})).status == 400
    assert (await service.instagram({"object": "instagram", "entry": "x"})).status == 400
    user = new_igsid()
    odd = ig.item("message_edit", {"mid": ig.new_mid()}, sender=user)
    no_sender = ig.message("hi")
    del no_sender["sender"]
    reaction = ig.reaction(ig.new_mid())
    read = ig.read(ig.new_mid())
    resp = await service.instagram(ig.body(ig.entry(odd, no_sender, reaction, read)))
    assert resp.status == 200
    assert (await service.instagram(ig.dashboard_test())).status == 200
    assert any("malformed" in r.getMessage() for r in caplog.records)
    assert any("message_edit" in r.getMessage() for r in caplog.records)
    # and the service still answers
    await service.instagram(text_from(user, "hello"))
    await wait_rows(service, user, ["received", "sent"])


async def test_echoes_are_dropped(service: Service, fake_instagram: FakeInstagram) -> None:
    user = new_igsid()
    echo = ig.echo("Hi! I'm the assistant")
    echo["recipient"] = {"id": user}
    assert (await service.instagram(ig.body(ig.entry(echo)))).status == 200
    await service.instagram(text_from(user, "hello"))
    await wait_rows(service, user, ["received", "sent"])
    # no customer was made of our own account, and the echo was not answered
    assert await rows_of(service, ig.ACCOUNT_ID) == []
    assert len(fake_instagram.sent()) == 1


async def test_batched_entries_are_all_processed(
    service: Service, fake_instagram: FakeInstagram
) -> None:
    a, b, c = new_igsid(), new_igsid(), new_igsid()
    batch = ig.body(
        ig.entry(ig.message("hi", sender=a), ig.echo("ours"), ig.message("hello", sender=b)),
        ig.entry(ig.read(ig.new_mid()), ig.message("де моє замовлення A1001", sender=c)),
    )
    assert (await service.instagram(batch)).status == 200
    for user in (a, b, c):
        await wait_rows(service, user, ["received", "sent"])
    assert "A1001" in sent_to(fake_instagram, c)[0]["message"]["text"]
    assert len(fake_instagram.sent()) == 3


@pytest.mark.parametrize("code", [613, 4, 17, 32])
async def test_rate_limits_are_retried(
    service: Service, fake_instagram: FakeInstagram, code: int
) -> None:
    user = new_igsid()
    fake_instagram.fail_next(code)
    await service.instagram(text_from(user, "hello"))
    await wait_rows(service, user, ["received", "sent"])
    assert calls_to(fake_instagram, user) == [400, 200]
    assert len(sent_to(fake_instagram, user)) == 1


async def test_window_closed_at_the_platform_keeps_the_reply_undeliverable(
    service: Service, fake_instagram: FakeInstagram
) -> None:
    user = new_igsid()
    fake_instagram.closed_windows.add(user)  # Meta says: outside the allowed window
    await service.instagram(text_from(user, "hello"))
    rows = await wait_rows(service, user, ["received", "undeliverable"])
    # kept in the transcript with its text and the reason, not retried
    assert rows[1].text and "order" in rows[1].text.lower()
    assert "code 10" in (rows[1].error or "") and "2534022" in (rows[1].error or "")
    assert calls_to(fake_instagram, user) == [403]


async def _age_identity(service: Service, igsid: str, age: timedelta) -> None:
    db = Database(service.settings.database_url)
    try:
        async with db.transaction() as s:
            await s.execute(
                update(ChannelIdentity)
                .where(ChannelIdentity.channel == "instagram", ChannelIdentity.external_id == igsid)
                .values(last_inbound_at=now_utc() - age)
            )
    finally:
        await db.dispose()


async def _queue_reply(service: Service, igsid: str, message: OutboundMessage) -> int:
    """A pending reply in the outbox, as an agent console or a scheduled reminder stores it;
    the running service's sweeper sends it."""
    db = Database(service.settings.database_url)
    try:
        async with db.transaction() as s:
            customer = await CustomerRepository(s).find_by_identity("instagram", igsid)
            assert customer is not None
            row = await MessageRepository(s).add_outbound(
                customer.id,
                None,
                "instagram",
                igsid,
                message.sender,
                message.text,
                encode_outbound(message),
                None,
                now_utc(),
            )
            return row.id
    finally:
        await db.dispose()


async def test_window_enforced_before_sending(
    service: Service, fake_instagram: FakeInstagram
) -> None:
    user = new_igsid()
    await service.instagram(text_from(user, "hello"))
    await wait_rows(service, user, ["received", "sent"])
    await _age_identity(service, user, timedelta(hours=25))
    await _queue_reply(service, user, OutboundMessage("Your visit is tomorrow at 10:00"))
    await _queue_reply(service, user, OutboundMessage("Agent here: all sorted", sender="agent"))
    rows = await wait_rows(service, user, ["received", "sent", "undeliverable", "sent"])
    assert "24 hours" in (rows[2].error or "")
    # the bot's message never reached the platform; the agent's went with HUMAN_AGENT
    assert len(fake_instagram.calls) == 2
    agent = sent_to(fake_instagram, user)[1]
    assert agent["messaging_type"] == "MESSAGE_TAG" and agent["tag"] == "HUMAN_AGENT"
    # past 7 days not even an agent may write
    await _age_identity(service, user, timedelta(days=8))
    await _queue_reply(service, user, OutboundMessage("Agent again", sender="agent"))
    rows = await wait_rows(
        service, user, ["received", "sent", "undeliverable", "sent", "undeliverable"]
    )
    assert "7 days" in (rows[4].error or "")
    assert len(fake_instagram.calls) == 2
