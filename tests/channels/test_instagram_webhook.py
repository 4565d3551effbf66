"""The Instagram webhook through its real routes: verification, signatures, every event."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.channels.instagram import InstagramChannel
from bots.messages import Attachment, EventKind
from tests.channels._vi_helpers import RecordingIngress, webhook_client
from tests.fakes import instagram as ig

SECRET = "d41d8cd98f00b204e9800998ecf8427e"
VERIFY = "verify-me-please"


@pytest.fixture
def vi_ingress() -> RecordingIngress:
    return RecordingIngress()


@pytest.fixture
async def client(vi_ingress: RecordingIngress) -> AsyncIterator[TestClient[Any, Any]]:
    channel = InstagramChannel(
        app_secret=SECRET,
        verify_token=VERIFY,
        access_token="IGAA-token",
        account_id=ig.ACCOUNT_ID,
        api_base="http://127.0.0.1:9/v21.0",
    )
    async with webhook_client(channel, vi_ingress) as c:
        yield c
    await channel.close()


async def post(client: TestClient[Any, Any], doc: dict[str, Any]) -> Any:
    signed = ig.sign(SECRET, doc)
    return await client.post("/webhooks/instagram", data=signed.body, headers=signed.headers)


# ---- verification and signatures ---------------------------------------------------------------


async def test_subscription_check_echoes_the_raw_challenge(client: TestClient[Any, Any]) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    response = await client.get("/webhooks/instagram", params=query)
    assert response.status == 200
    assert await response.text() == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
async def test_subscription_check_refused(
    client: TestClient[Any, Any], query: dict[str, str]
) -> None:
    response = await client.get("/webhooks/instagram", params=query)
    assert response.status == 403
    assert await response.text() != "1"


async def test_signature_is_over_the_escaped_bytes(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    doc = ig.body(ig.entry(ig.message("Привіт, äöå ❤️ https://example.com/x")))
    signed = ig.sign(SECRET, doc)
    assert b"\\u041f" in signed.body and b"\\u2764\\ufe0f" in signed.body and b"\\/" in signed.body
    assert (await post(client, doc)).status == 200
    [m] = vi_ingress.messages
    assert m.text == "Привіт, äöå ❤️ https://example.com/x"
    # the same event re-serialised (UTF-8, no escapes) would not match the signature
    reencoded = json.dumps(doc, ensure_ascii=False).encode()
    response = await client.post("/webhooks/instagram", data=reencoded, headers=signed.headers)
    assert response.status == 403


@pytest.mark.parametrize(
    "header",
    [None, "sha256=" + "0" * 64, "sha1=abc", "deadbeef"],
)
async def test_bad_or_missing_signature_is_rejected(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress, header: str | None
) -> None:
    signed = ig.sign(SECRET, ig.body(ig.entry(ig.message("hi"))))
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-Hub-Signature-256"] = header
    response = await client.post("/webhooks/instagram", data=signed.body, headers=headers)
    assert response.status == 403
    assert vi_ingress.accepted == []


@pytest.mark.parametrize(
    "raw",
    [b"{oops", b"[]", b'{"object":"page","entry":[]}', b'{"object":"instagram","entry":{}}'],
)
async def test_malformed_body_is_400(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress, raw: bytes
) -> None:
    headers = {
        "X-Hub-Signature-256": ig.hmac.new(SECRET.encode(), raw, ig.hashlib.sha256).hexdigest()
    }
    headers["X-Hub-Signature-256"] = "sha256=" + headers["X-Hub-Signature-256"]
    response = await client.post("/webhooks/instagram", data=raw, headers=headers)
    assert response.status == 400
    assert vi_ingress.accepted == []


# ---- events ------------------------------------------------------------------------------------


async def test_batched_entries_and_items_are_all_processed(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    doc = ig.body(
        ig.entry(ig.message("перше"), ig.message("друге")),
        ig.entry(ig.message("третє", sender="999")),
    )
    assert (await post(client, doc)).status == 200
    assert [(m.text, m.user_id) for m in vi_ingress.messages] == [
        ("перше", ig.CUSTOMER),
        ("друге", ig.CUSTOMER),
        ("третє", "999"),
    ]
    assert vi_ingress.messages[0].timestamp.year == 2024


async def test_duplicate_mid_is_dropped(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    item = ig.message("раз")
    await post(client, ig.body(ig.entry(item)))
    await post(client, ig.body(ig.entry(item, ig.message("два"))))  # a retried batch
    assert [m.text for m in vi_ingress.messages] == ["раз", "два"]
    assert vi_ingress.messages[0].message_id == item["message"]["mid"]
    assert vi_ingress.duplicates == 1


async def test_quick_reply_reply_to_and_attachments(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    quick = ig.message("Завтра", quick_reply={"payload": "day:tomorrow"})
    reply = ig.message("так", reply_to={"mid": "m_earlier"})
    media = ig.message(
        attachments=[
            {
                "type": "image",
                "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"},
            },
            {
                "type": "ig_reel",
                "payload": {"url": "https://www.instagram.com/reel/x", "title": "reel"},
            },
        ]
    )
    unsupported = ig.message(is_unsupported=True)
    await post(client, ig.body(ig.entry(quick, reply, media, unsupported)))
    q, r, m, u = vi_ingress.messages
    assert (q.text, q.payload) == ("Завтра", "day:tomorrow")
    assert r.raw["message"]["reply_to"] == {"mid": "m_earlier"}
    assert m.attachments == (
        Attachment(kind="image", url="https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"),
        Attachment(kind="other", url="https://www.instagram.com/reel/x"),
    )
    assert (u.text, u.attachments) == (None, (Attachment(kind="other"),))


async def test_echo_deleted_reaction_and_standby_are_not_forwarded(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bots.channels.instagram")
    doc = ig.body(
        ig.entry(
            ig.echo("Ваш запис підтверджено"),
            ig.message(is_deleted=True),
            ig.reaction("m_bot_1"),
        ),
        ig.entry(ig.message("owned by another app"), key="standby"),
    )
    assert (await post(client, doc)).status == 200
    assert vi_ingress.accepted == []
    assert "standby" in caplog.text and "deleted" in caplog.text and "reaction" in caplog.text


async def test_postback_read_and_referral(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    doc = ig.body(
        ig.entry(ig.postback("Записатися", "book"), ig.read("m_bot_7"), ig.referral("link-XYZ"))
    )
    await post(client, doc)
    [p] = vi_ingress.messages
    assert (p.text, p.payload) == ("Записатися", "book")
    seen, started = vi_ingress.channel_events
    assert (seen.kind, seen.message_id) == (EventKind.SEEN, "m_bot_7")
    assert (started.kind, started.detail) == (EventKind.CONVERSATION_STARTED, "link-XYZ")


async def test_message_with_referral_keeps_it_as_deep_link(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    doc = ig.body(
        ig.entry(ig.message("Привіт", referral={"ref": "link-123", "source": "IGME_LINK"}))
    )
    await post(client, doc)
    assert vi_ingress.messages[0].deep_link == "link-123"


async def test_dashboard_test_shape_with_string_timestamp(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    assert (await post(client, ig.dashboard_test())).status == 200
    [m] = vi_ingress.messages
    assert (m.user_id, m.message_id, m.text) == ("12334", "random_mid", "random mesage")
    assert m.timestamp.year == 2018


async def test_a_bad_item_does_not_lose_the_batch(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress, caplog: pytest.LogCaptureFixture
) -> None:
    broken = ig.message("no sender")
    del broken["sender"]
    unknown = ig.item("message_edit", {"mid": "m1", "text": "edited"})
    await post(client, ig.body(ig.entry(broken, unknown, ig.message("fine"))))
    assert [m.text for m in vi_ingress.messages] == ["fine"]
    assert "malformed messaging item" in caplog.text
