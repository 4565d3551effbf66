"""Sending to Instagram against the loopback Graph fake: rendering, window, error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bots.channels.base import SendContext
from bots.channels.errors import (
    OutsideMessagingWindow,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
    TransientSendError,
)
from bots.channels.instagram import InstagramChannel
from bots.messages import Attachment, Button, OutboundMessage
from tests.fakes.instagram import ACCOUNT_ID, CUSTOMER, FakeInstagram

TOKEN = "IGAAJ-long-lived-token"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def ago(**kw: float) -> SendContext:
    return SendContext(last_inbound_at=NOW - timedelta(**kw))


def agent_ago(**kw: float) -> SendContext:
    return SendContext(last_inbound_at=NOW - timedelta(**kw), sender="agent")


@pytest.fixture
async def fake() -> AsyncIterator[FakeInstagram]:
    async with FakeInstagram(TOKEN, ACCOUNT_ID) as f:
        yield f


@pytest.fixture
async def insta(fake: FakeInstagram) -> AsyncIterator[InstagramChannel]:
    channel = InstagramChannel(
        app_secret="s",
        verify_token="v",
        access_token=TOKEN,
        account_id=ACCOUNT_ID,
        api_base=fake.base_url,
        clock=lambda: NOW,
    )
    await channel.start()
    yield channel
    await channel.close()


async def test_text_send(insta: InstagramChannel, fake: FakeInstagram) -> None:
    sent = await insta.send(CUSTOMER, OutboundMessage(text="Привіт!"), ago(minutes=5))
    [call] = fake.calls
    assert call.path == f"/v21.0/{ACCOUNT_ID}/messages"
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "access_token" not in call.query
    assert call.body == {
        "recipient": {"id": CUSTOMER},
        "messaging_type": "RESPONSE",
        "message": {"text": "Привіт!"},
    }
    assert sent.platform_message_id and sent.parts == 1


async def test_quick_replies_at_most_13_titles_cut_surplus_listed(
    insta: InstagramChannel, fake: FakeInstagram
) -> None:
    buttons = tuple(Button(f"Майстер манікюру №{i} (ранок)", f"staff:{i}") for i in range(1, 16))
    await insta.send(
        CUSTOMER, OutboundMessage(text="Оберіть майстра", buttons=buttons), ago(hours=1)
    )
    [body] = fake.sent()
    quick = body["message"]["quick_replies"]
    assert len(quick) == 13
    assert all(q["content_type"] == "text" and len(q["title"]) <= 20 for q in quick)
    assert quick[0]["payload"] == "staff:1"
    assert body["message"]["text"].endswith(
        "14. Майстер манікюру №14 (ранок)\n15. Майстер манікюру №15 (ранок)"
    )


async def test_long_text_split_with_quick_replies_on_last_part(
    insta: InstagramChannel, fake: FakeInstagram
) -> None:
    text = "Наш салон працює щодня з дев'ятої до дев'ятої. " * 60  # ~2800 chars, ~5 KB
    sent = await insta.send(
        CUSTOMER, OutboundMessage(text=text, buttons=(Button("Так", "yes"),)), ago(hours=1)
    )
    bodies = fake.sent()  # the fake refuses text over 1000 bytes
    assert sent.parts == len(bodies) > 3
    assert all(len(b["message"]["text"].encode()) <= 1000 for b in bodies)
    assert ["quick_replies" in b["message"] for b in bodies] == [False] * (len(bodies) - 1) + [True]


async def test_attachment_goes_first(insta: InstagramChannel, fake: FakeInstagram) -> None:
    image = Attachment(kind="image", url="https://example.com/price.jpg")
    await insta.send(CUSTOMER, OutboundMessage(text="Прайс", attachment=image), ago(hours=1))
    first, second = fake.sent()
    assert first["message"] == {
        "attachment": {"type": "image", "payload": {"url": "https://example.com/price.jpg"}}
    }
    assert second["message"] == {"text": "Прайс"}


# ---- the messaging window ----------------------------------------------------------------------


async def test_bot_after_24h_is_refused_without_calling_the_api(
    insta: InstagramChannel, fake: FakeInstagram
) -> None:
    with pytest.raises(OutsideMessagingWindow):
        await insta.send(CUSTOMER, OutboundMessage(text="Нагадування"), ago(hours=24, minutes=1))
    assert fake.calls == []


async def test_agent_at_3_days_is_sent_with_human_agent_tag(
    insta: InstagramChannel, fake: FakeInstagram
) -> None:
    fake.closed_windows.add(CUSTOMER)  # the platform agrees the 24 h are over
    await insta.send(
        CUSTOMER, OutboundMessage(text="Вибачте за затримку", sender="agent"), agent_ago(days=3)
    )
    [body] = fake.sent()
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


async def test_agent_within_24h_uses_response(insta: InstagramChannel, fake: FakeInstagram) -> None:
    await insta.send(
        CUSTOMER, OutboundMessage(text="Добрий день", sender="agent"), agent_ago(hours=2)
    )
    [body] = fake.sent()
    assert body["messaging_type"] == "RESPONSE" and "tag" not in body


async def test_agent_at_8_days_is_refused(insta: InstagramChannel, fake: FakeInstagram) -> None:
    with pytest.raises(OutsideMessagingWindow, match="7 days"):
        await insta.send(
            CUSTOMER, OutboundMessage(text="Ви ще тут?", sender="agent"), agent_ago(days=8)
        )
    assert fake.calls == []


async def test_platform_window_error_is_mapped(
    insta: InstagramChannel, fake: FakeInstagram
) -> None:
    fake.closed_windows.add(CUSTOMER)  # e.g. our clock and Meta's disagree
    with pytest.raises(OutsideMessagingWindow, match="2534022"):
        await insta.send(CUSTOMER, OutboundMessage(text="x"), SendContext())
    assert fake.calls[0].status == 403


# ---- error mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "subcode", "status", "error"),
    [
        (10, 2018278, None, OutsideMessagingWindow),
        (10, 2534022, None, OutsideMessagingWindow),
        (10, None, None, PermanentSendError),  # permission missing: not the window
        (613, None, None, RateLimited),
        (4, None, None, RateLimited),
        (17, None, None, RateLimited),
        (32, None, None, RateLimited),
        (190, None, None, PermanentSendError),
        (551, None, None, RecipientUnreachable),
        (100, 2018001, None, RecipientUnreachable),
        (100, None, None, PermanentSendError),
        (2, None, None, TransientSendError),
        (1200, None, 502, TransientSendError),
    ],
)
async def test_graph_errors_are_typed(
    insta: InstagramChannel,
    fake: FakeInstagram,
    code: int,
    subcode: int | None,
    status: int | None,
    error: type[Exception],
) -> None:
    fake.fail_next(code, subcode, status=status)
    with pytest.raises(error, match=f"code {code}"):
        await insta.send(CUSTOMER, OutboundMessage(text="x"), ago(hours=1))


async def test_unknown_user_and_bad_token(fake: FakeInstagram, insta: InstagramChannel) -> None:
    fake.unknown_users.add("404")
    with pytest.raises(RecipientUnreachable, match="2018001"):
        await insta.send("404", OutboundMessage(text="x"), ago(hours=1))
    wrong = InstagramChannel(
        app_secret="s",
        verify_token="v",
        access_token="expired",
        account_id=ACCOUNT_ID,
        api_base=fake.base_url,
    )
    try:
        with pytest.raises(PermanentSendError, match="code 190"):
            await wrong.send(CUSTOMER, OutboundMessage(text="x"), SendContext())
    finally:
        await wrong.close()


async def test_network_failure_is_transient() -> None:
    channel = InstagramChannel(
        app_secret="s",
        verify_token="v",
        access_token=TOKEN,
        account_id=ACCOUNT_ID,
        api_base="http://127.0.0.1:9/v21.0",
    )
    try:
        with pytest.raises(TransientSendError):
            await channel.send(CUSTOMER, OutboundMessage(text="x"), SendContext())
    finally:
        await channel.close()


async def test_naive_last_inbound_is_read_as_utc(
    insta: InstagramChannel, fake: FakeInstagram
) -> None:
    naive = SendContext(last_inbound_at=(NOW - timedelta(hours=2)).replace(tzinfo=None))
    await insta.send(CUSTOMER, OutboundMessage(text="ok"), naive)
    assert fake.sent()[0]["messaging_type"] == "RESPONSE"
