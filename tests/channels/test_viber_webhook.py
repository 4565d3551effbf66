"""The Viber webhook through its real route: signatures, every callback, duplicates."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.channels.viber import ViberChannel
from bots.messages import Attachment, Button, ChannelEvent, EventKind, OutboundMessage
from tests.channels._vi_helpers import RecordingIngress, webhook_client
from tests.fakes import viber as vb

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
BIG_TOKEN = 5741311803571721087  # above 2**53: a float would round it


@pytest.fixture
def vi_ingress() -> RecordingIngress:
    return RecordingIngress()


def make_channel(**kw: Any) -> ViberChannel:
    return ViberChannel(
        auth_token=TOKEN, bot_name="Салон Краси", api_base="http://127.0.0.1:9/pa", **kw
    )


@pytest.fixture
async def client(vi_ingress: RecordingIngress) -> AsyncIterator[TestClient[Any, Any]]:
    channel = make_channel(
        welcome=OutboundMessage(text="Вітаємо!", buttons=(Button("Записатися", "book"),))
    )
    async with webhook_client(channel, vi_ingress) as c:
        yield c
    await channel.close()


async def post(client: TestClient[Any, Any], doc: dict[str, Any], *, how: str = "header") -> Any:
    signed = vb.sign_callback(TOKEN, doc)
    if how == "header":
        return await client.post("/webhooks/viber", data=signed.body, headers=signed.headers)
    return await client.post(
        "/webhooks/viber" + signed.query,
        data=signed.body,
        headers={"Content-Type": "application/json"},
    )


# ---- signatures and malformed bodies ------------------------------------------------------------


async def test_signature_from_header_or_sig_query(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    r1 = await post(client, vb.text_message("привіт"), how="header")
    r2 = await post(client, vb.text_message("ще раз"), how="query")
    assert (r1.status, r2.status) == (200, 200)
    assert [m.text for m in vi_ingress.messages] == ["привіт", "ще раз"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Viber-Content-Signature": "0" * 64},
        {"X-Viber-Content-Signature": vb.signature("another-token", b"{}")},
    ],
)
async def test_bad_or_missing_signature_is_rejected(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress, headers: dict[str, str]
) -> None:
    body = vb.sign_callback(TOKEN, vb.text_message("hi")).body
    response = await client.post("/webhooks/viber", data=body, headers=headers)
    assert response.status == 403
    assert "error" in await response.json()
    assert vi_ingress.accepted == []


async def test_signature_of_other_bytes_is_rejected(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    signed = vb.sign_callback(TOKEN, vb.text_message("hi"))
    tampered = signed.body.replace(b'"hi"', b'"ho"')
    response = await client.post("/webhooks/viber", data=tampered, headers=signed.headers)
    assert response.status == 403
    assert vi_ingress.accepted == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"no_event": 1}'])
async def test_malformed_body_is_400(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress, body: bytes
) -> None:
    response = await client.post(
        "/webhooks/viber",
        data=body,
        headers={"X-Viber-Content-Signature": vb.signature(TOKEN, body)},
    )
    assert response.status == 400
    assert vi_ingress.accepted == []


async def test_message_without_sender_is_400(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    doc = vb.text_message("hi")
    del doc["sender"]
    assert (await post(client, doc)).status == 400
    assert vi_ingress.accepted == []


async def test_unknown_event_and_message_type_are_logged_and_acknowledged(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bots.channels.viber")
    status = {
        "event": "client_status",
        "timestamp": 1732280000000,
        "chat_hostname": "SN-1_",
        "user_id": "u1",
    }
    audio = vb.message({"type": "audio", "media": "https://example.com/a.ogg"})
    rich = vb.message({"type": "rich_media", "rich_media": {"Type": "rich_media", "Buttons": []}})
    for doc in (status, audio, rich):
        assert (await post(client, doc)).status == 200
    assert vi_ingress.accepted == []
    assert "unsupported event 'client_status'" in caplog.text
    assert "unsupported message type 'audio'" in caplog.text
    assert "unsupported message type 'rich_media'" in caplog.text


async def test_webhook_check_is_acknowledged(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    assert (await post(client, vb.webhook())).status == 200
    assert vi_ingress.accepted == []


# ---- messages ----------------------------------------------------------------------------------


async def test_text_message_and_big_token_kept_exactly(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    doc = vb.text_message("Хочу записатися", token=BIG_TOKEN, tracking_data="t-1")
    assert str(BIG_TOKEN) in vb.sign_callback(TOKEN, doc).body.decode()
    assert (await post(client, doc)).status == 200
    [m] = vi_ingress.messages
    assert m.channel == "viber"
    assert m.message_id == "5741311803571721087"
    assert m.user_id == "01234567890A+/="
    assert (m.text, m.payload, m.user_name, m.language_hint) == (
        "Хочу записатися",
        None,
        "Олена",
        "uk",
    )
    assert m.timestamp.year == 2024
    assert m.raw["message"]["tracking_data"] == "t-1"
    assert m.raw["message_token"] == BIG_TOKEN


async def test_duplicate_message_token_is_dropped(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    doc = vb.text_message("раз", token=BIG_TOKEN)
    await post(client, doc)
    await post(client, doc)  # Viber retries a callback it thinks failed
    other = vb.text_message("два", token=BIG_TOKEN + 1)  # differs only past float precision
    await post(client, other)
    assert [m.text for m in vi_ingress.messages] == ["раз", "два"]
    assert vi_ingress.duplicates == 1


async def test_contact_is_a_verified_phone(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    doc = vb.message(
        {"type": "contact", "contact": {"name": "Олена", "phone_number": "380501234567"}}
    )
    await post(client, doc)
    [m] = vi_ingress.messages
    assert (m.contact_phone, m.contact_verified, m.text) == ("380501234567", True, None)


async def test_media_messages_become_attachments(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    docs = [
        vb.message({"type": "location", "location": {"lat": 50.4501, "lon": 30.5234}}),
        vb.message(
            {
                "type": "picture",
                "text": "ось",
                "media": "https://dl.viber.com/p.jpg",
                "thumbnail": "https://dl.viber.com/t.jpg",
            }
        ),
        vb.message(
            {
                "type": "file",
                "media": "https://dl.viber.com/f",
                "size": 1024,
                "file_name": "scan.pdf",
            }
        ),
        vb.message(
            {"type": "video", "media": "https://dl.viber.com/v.mp4", "size": 4096, "duration": 3}
        ),
        vb.message(
            {"type": "sticker", "sticker_id": 46105, "media": "https://viber.com/sticker.png"}
        ),
    ]
    for doc in docs:
        assert (await post(client, doc)).status == 200
    got = [m.attachments for m in vi_ingress.messages]
    assert got == [
        (Attachment(kind="location", latitude=50.4501, longitude=30.5234),),
        (Attachment(kind="image", url="https://dl.viber.com/p.jpg"),),
        (Attachment(kind="file", url="https://dl.viber.com/f", name="scan.pdf"),),
        (Attachment(kind="video", url="https://dl.viber.com/v.mp4"),),
        (Attachment(kind="sticker", url="https://viber.com/sticker.png", name="46105"),),
    ]
    assert vi_ingress.messages[1].text == "ось"


async def test_reply_button_tap_becomes_payload_with_title(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    [rendered] = make_channel().render(
        OutboundMessage(text="Коли?", buttons=(Button("Завтра о 10:00", "slot:2024-11-23T10"),))
    )
    action_body = rendered["keyboard"]["Buttons"][0]["ActionBody"]
    await post(client, vb.text_message(action_body, tracking_data=rendered["tracking_data"]))
    await post(client, vb.text_message(action_body))  # an old keyboard: no titles came back
    first, second = vi_ingress.messages
    assert (first.payload, first.text) == ("slot:2024-11-23T10", "Завтра о 10:00")
    assert (second.payload, second.text) == ("slot:2024-11-23T10", None)


# ---- events ------------------------------------------------------------------------------------


async def test_conversation_started_answers_welcome_in_body(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    response = await post(client, vb.conversation_started(context="link-ABC123"))
    assert response.status == 200
    body = await response.json()
    assert "receiver" not in body
    assert (body["type"], body["text"], body["sender"]["name"]) == (
        "text",
        "Вітаємо!",
        "Салон Краси",
    )
    assert body["keyboard"]["Buttons"][0]["ActionBody"] == "btn:book"
    [event] = vi_ingress.channel_events
    assert (event.kind, event.detail, event.user_id) == (
        EventKind.CONVERSATION_STARTED,
        "link-ABC123",
        "01234567890A+/=",
    )


async def test_welcome_callable_sees_the_event(vi_ingress: RecordingIngress) -> None:
    seen: list[ChannelEvent] = []

    def welcome(event: ChannelEvent) -> OutboundMessage | None:
        seen.append(event)
        return (
            None
            if event.detail == "quiet"
            else OutboundMessage(text=f"Hi {event.raw['user']['name']}")
        )

    channel = make_channel(welcome=welcome)
    async with webhook_client(channel, vi_ingress) as c:
        loud = await (await post(c, vb.conversation_started())).json()
        quiet = await (await post(c, vb.conversation_started(context="quiet"))).json()
    assert loud["text"] == "Hi Олена"
    assert quiet == {"status": 0}
    assert [e.detail for e in seen] == [None, "quiet"]


async def test_subscribe_and_unsubscribe(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    await post(client, vb.subscribed())
    await post(client, vb.unsubscribed(user_id="01234567890A+/="))
    assert [(e.kind, e.user_id) for e in vi_ingress.channel_events] == [
        (EventKind.UNBLOCKED, "01234567890A+/="),
        (EventKind.BLOCKED, "01234567890A+/="),
    ]


async def test_receipts_carry_the_message_token(
    client: TestClient[Any, Any], vi_ingress: RecordingIngress
) -> None:
    for doc in (
        vb.receipt("delivered", BIG_TOKEN),
        vb.receipt("seen", BIG_TOKEN),
        vb.receipt("failed", BIG_TOKEN, desc="user is offline too long"),
        vb.receipt("delivered", BIG_TOKEN),  # duplicate
    ):
        assert (await post(client, doc)).status == 200
    assert [(e.kind, e.message_id, e.detail) for e in vi_ingress.channel_events] == [
        (EventKind.DELIVERED, str(BIG_TOKEN), None),
        (EventKind.SEEN, str(BIG_TOKEN), None),
        (EventKind.FAILED, str(BIG_TOKEN), "user is offline too long"),
    ]
    assert vi_ingress.duplicates == 1
