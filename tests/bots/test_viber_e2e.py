"""Viber end to end: signed callbacks in through `POST /webhooks/viber` of the real app,
send_message calls out at the fake Viber REST API, both backends."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import pytest

from storage.db import Database
from storage.models import ChannelIdentity, Message
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from tests.bots.conftest import Service
from tests.fakes import viber as vb
from tests.fakes import wait_until
from tests.fakes.viber import FakeViber


def new_user_id() -> str:
    """Viber ids are base64-ish and contain `/+=`; a random one keeps tests apart."""
    return uuid.uuid4().hex[:16] + "+/A=="


async def rows_of(service: Service, user_id: str) -> list[Message]:
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            customer = await CustomerRepository(s).find_by_identity("viber", user_id)
            if customer is None:
                return []
            return list(await MessageRepository(s).transcript(customer.id))
    finally:
        await db.dispose()


async def identity_of(service: Service, user_id: str) -> ChannelIdentity | None:
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            return await CustomerRepository(s).identity("viber", user_id)
    finally:
        await db.dispose()


async def wait_rows(service: Service, user_id: str, statuses: list[str]) -> list[Message]:
    """The transcript once its rows have exactly these statuses, in order."""

    async def check() -> list[Message] | None:
        rows = await rows_of(service, user_id)
        return rows if [r.status for r in rows] == statuses else None

    found: list[Message] = await wait_until(check, timeout=10, what=f"rows {statuses}")
    return found


def sent_to(fake: FakeViber, user_id: str) -> list[dict[str, Any]]:
    return [b for b in fake.sent() if b.get("receiver") == user_id]


async def test_text_gets_a_reply_with_a_reply_keyboard(
    service: Service, fake_viber: FakeViber
) -> None:
    uid = new_user_id()
    resp = await service.viber(vb.text_message("hello", sender=vb.user(uid, language="en")))
    assert resp.status == 200
    await fake_viber.wait_for("send_message", where=lambda c: c.body.get("receiver") == uid)
    (sent,) = sent_to(fake_viber, uid)
    assert sent["type"] == "text" and "order" in sent["text"].lower()
    assert sent["sender"]["name"] == service.settings.viber_bot_name
    buttons = sent["keyboard"]["Buttons"]
    assert {b["ActionType"] for b in buttons} == {"reply"}
    assert "btn:/check_order_status" in [b["ActionBody"] for b in buttons]
    rows = await wait_rows(service, uid, ["received", "sent"])
    # the 64-bit message token is kept exactly (it is above 2**53)
    assert int(rows[1].platform_message_id or 0) >= vb.FIRST_TOKEN


async def test_tapping_a_reply_button_sends_its_payload(
    service: Service, fake_viber: FakeViber
) -> None:
    uid = new_user_id()
    sender = vb.user(uid, language="en")
    await service.viber(vb.text_message("hi", sender=sender))
    await fake_viber.wait_for("send_message", where=lambda c: c.body.get("receiver") == uid)
    first = sent_to(fake_viber, uid)[0]
    button = next(
        b for b in first["keyboard"]["Buttons"] if b["ActionBody"] == "btn:/check_order_status"
    )
    # Viber sends a reply-button tap back as a text message whose text is the ActionBody,
    # with the tracking_data of the message that carried the keyboard.
    tap = vb.text_message(
        button["ActionBody"], sender=sender, tracking_data=first.get("tracking_data")
    )
    assert (await service.viber(tap)).status == 200
    await fake_viber.wait_for("send_message", 2, where=lambda c: c.body.get("receiver") == uid)
    assert "order number" in sent_to(fake_viber, uid)[1]["text"]
    rows = await wait_rows(service, uid, ["received", "sent", "received", "sent"])
    assert rows[2].payload == "/check_order_status"
    assert rows[2].text == button["Text"]  # the title, recovered from tracking_data


async def test_ukrainian_order_status(service: Service, fake_viber: FakeViber) -> None:
    uid = new_user_id()
    await service.viber(vb.text_message("де моє замовлення A1001", sender=vb.user(uid)))
    await fake_viber.wait_for("send_message", where=lambda c: c.body.get("receiver") == uid)
    text = sent_to(fake_viber, uid)[0]["text"]
    assert "A1001" in text and "в дорозі" in text


async def test_duplicate_callback_one_reply(service: Service, fake_viber: FakeViber) -> None:
    uid = new_user_id()
    doc = vb.text_message("hi", sender=vb.user(uid, language="en"))
    assert (await service.viber(doc)).status == 200
    assert (await service.viber(doc)).status == 200  # Viber retries a slow webhook
    await service.viber(vb.text_message("thanks", sender=vb.user(uid, language="en")))
    await fake_viber.wait_for("send_message", 2, where=lambda c: c.body.get("receiver") == uid)
    rows = await wait_rows(service, uid, ["received", "sent", "received", "sent"])
    assert [r.direction for r in rows].count("in") == 2
    assert len(sent_to(fake_viber, uid)) == 2


async def test_bad_signature_is_rejected_and_nothing_enqueued(
    service: Service, fake_viber: FakeViber
) -> None:
    uid = new_user_id()
    doc = vb.text_message("hi", sender=vb.user(uid, language="en"))
    wrong = await service.viber(doc, token="not-the-token")
    assert wrong.status == 403
    assert "error" in await wrong.json()
    signed = vb.sign_callback(vb_token(service), doc)
    unsigned = await service.client.post(
        "/webhooks/viber", data=signed.body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status == 403
    tampered = await service.client.post(
        "/webhooks/viber",
        data=signed.body.replace(b'"hi"', b'"ho"'),
        headers=signed.headers,
    )
    assert tampered.status == 403
    # The same message, correctly signed, is then processed once: nothing was enqueued or
    # marked as seen by the rejected attempts.
    assert (await service.viber(doc)).status == 200
    await wait_rows(service, uid, ["received", "sent"])
    assert len(sent_to(fake_viber, uid)) == 1


def vb_token(service: Service) -> str:
    token = service.settings.viber_token
    assert token is not None
    return token.get_secret_value()


async def test_malformed_and_unknown_callbacks_never_crash(
    service: Service, fake_viber: FakeViber, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = vb_token(service)

    async def post_raw(body: bytes) -> Any:
        sig = vb.signature(token, body)
        return await service.client.post(
            "/webhooks/viber", data=body, headers={"X-Viber-Content-Signature": sig}
        )

    assert (await post_raw(b"{not json")).status == 400
    assert (await post_raw(b"[1, 2]")).status == 400
    uid = new_user_id()
    bad_message = vb.message({"type": "text", "text": "hi"}, sender={"name": "no id"})
    assert (await service.viber(bad_message)).status == 400
    # unknown events and message types: 200, or Viber would retry them for an hour
    unknown_event = {"event": "client_status", "timestamp": 1732280000000, "user_id": uid}
    assert (await service.viber(unknown_event)).status == 200
    rich = vb.message({"type": "rich_media", "rich_media": {}}, sender=vb.user(uid))
    assert (await service.viber(rich)).status == 200
    assert (await service.viber(vb.webhook())).status == 200
    assert any("client_status" in r.getMessage() for r in caplog.records)
    assert any("rich_media" in r.getMessage() for r in caplog.records)
    assert any("malformed" in r.getMessage() for r in caplog.records)
    # nothing of that reached the pipeline, and the service still answers
    assert await rows_of(service, uid) == []
    await service.viber(vb.text_message("hello", sender=vb.user(uid, language="en")))
    await wait_rows(service, uid, ["received", "sent"])


async def test_conversation_started_welcome_is_in_the_response_body(
    service: Service, fake_viber: FakeViber
) -> None:
    uid = new_user_id()
    resp = await service.viber(vb.conversation_started("link-ABC123", user=vb.user(uid)))
    assert resp.status == 200
    body = await resp.json()
    assert body["type"] == "text" and "receiver" not in body
    assert re.search("[а-яіїєґ]", body["text"])  # the user's language is Ukrainian
    assert body["sender"]["name"] == service.settings.viber_bot_name
    english = await service.viber(
        vb.conversation_started(user=vb.user(new_user_id(), language="en-GB"))
    )
    assert not re.search("[а-яіїєґ]", (await english.json())["text"])
    # the welcome is never sent through send_message
    assert not [c for c in fake_viber.calls if c.method == "send_message"]


async def test_delivery_receipts_update_the_outbound_message(
    service: Service, fake_viber: FakeViber
) -> None:
    uid = new_user_id()
    await service.viber(vb.text_message("hello", sender=vb.user(uid, language="en")))
    rows = await wait_rows(service, uid, ["received", "sent"])
    token = int(rows[1].platform_message_id or 0)
    assert (await service.viber(vb.receipt("delivered", token, uid))).status == 200
    await wait_rows(service, uid, ["received", "delivered"])
    assert (await service.viber(vb.receipt("seen", token, uid))).status == 200
    await wait_rows(service, uid, ["received", "seen"])
    # a late "delivered" never moves a seen message back
    late = vb.receipt("delivered", token, uid)
    late["timestamp"] += 1
    await service.viber(late)
    await service.viber(vb.text_message("thanks", sender=vb.user(uid, language="en")))
    rows = await wait_rows(service, uid, ["received", "seen", "received", "sent"])
    second = int(rows[3].platform_message_id or 0)
    failed = vb.receipt("failed", second, uid, desc="user's device is offline for too long")
    assert (await service.viber(failed)).status == 200
    rows = await wait_rows(service, uid, ["received", "seen", "received", "failed"])
    assert rows[3].error == "user's device is offline for too long"


async def test_status_12_is_retried(service: Service, fake_viber: FakeViber) -> None:
    uid = new_user_id()
    fake_viber.fail_next(12)
    await service.viber(vb.text_message("hello", sender=vb.user(uid, language="en")))
    calls = await fake_viber.wait_for(
        "send_message", 2, where=lambda c: c.body.get("receiver") == uid
    )
    assert [c.status for c in calls] == [12, 0]
    rows = await wait_rows(service, uid, ["received", "sent"])
    assert rows[1].attempts == 0  # retried inline, not by the sweeper


@pytest.mark.parametrize("status", [5, 6])
async def test_not_subscribed_marks_the_identity_unreachable(
    service: Service, fake_viber: FakeViber, status: int
) -> None:
    uid = new_user_id()
    fake_viber.fail_next(status)
    await service.viber(vb.text_message("hello", sender=vb.user(uid, language="en")))
    rows = await wait_rows(service, uid, ["received", "undeliverable"])
    assert f"status {status}" in (rows[1].error or "")
    identity = await identity_of(service, uid)
    assert identity is not None and identity.reachable is False
    # one attempt only: an unsubscribed user is not retried
    assert len([c for c in fake_viber.calls if c.body.get("receiver") == uid]) == 1
    # `subscribed` makes the identity reachable again
    await service.viber(vb.subscribed(user=vb.user(uid)))

    async def reachable() -> bool:
        found = await identity_of(service, uid)
        return found is not None and found.reachable

    await wait_until(reachable, timeout=10, what="identity reachable again")


async def test_unsubscribed_event_marks_the_identity_unreachable(
    service: Service, fake_viber: FakeViber
) -> None:
    uid = new_user_id()
    await service.viber(vb.text_message("hello", sender=vb.user(uid, language="en")))
    await wait_rows(service, uid, ["received", "sent"])
    assert (await service.viber(vb.unsubscribed(uid))).status == 200

    async def unreachable() -> bool:
        found = await identity_of(service, uid)
        return found is not None and not found.reachable

    await wait_until(unreachable, timeout=10, what="identity unreachable")
