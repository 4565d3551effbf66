"""Viber's answer to opening the chat through a deep link (`conversation_started` with a
`context`): the webhook waits, on the real reply mailbox, for the worker's answer (what the
link did) and sends it as the welcome in its response; with no answer, a duplicate or no
context, the configured welcome. The worker here is an Ingress that answers like one."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from bots.channels.base import IngestResult
from bots.channels.viber import ViberChannel
from bots.messages import (
    Button,
    ChannelEvent,
    InboundEvent,
    OutboundMessage,
    encode_outbound,
)
from storage.mailbox import MemoryReplyMailbox
from tests.channels._vi_helpers import webhook_client
from tests.channels.conftest import RecordingIngress
from tests.fakes import viber as vb

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
WELCOME = OutboundMessage(text="Вітаємо!")
LINKED = OutboundMessage(
    text="Готово! Акаунти прив'язано.\n\nЗа яким номером з вами зв'язатися?",
    buttons=(Button("Скасувати", "/stop"),),
    request_phone=True,
    phone_label="📱 Поділитися номером",
)


class AnsweringIngress(RecordingIngress):
    """Records the events and, like the worker, answers the ones a gateway waits for."""

    def __init__(self, mailbox: MemoryReplyMailbox, answer: bytes | None) -> None:
        super().__init__()
        self.mailbox = mailbox
        self.answer = answer  # None: the worker never answers

    async def accept(self, events: Sequence[InboundEvent]) -> IngestResult:
        result = await super().accept(events)
        for event in events:
            if isinstance(event, ChannelEvent) and event.reply_to and self.answer is not None:
                await self.mailbox.deliver(event.reply_to, event.event_id, self.answer)
        return result


def make_channel(mailbox: MemoryReplyMailbox, timeout: float = 10.0) -> ViberChannel:
    return ViberChannel(
        auth_token=TOKEN,
        bot_name="Клініка",
        api_base="http://127.0.0.1:9/pa",
        welcome=WELCOME,
        mailbox=lambda: mailbox,
        link_reply_timeout=timeout,
    )


async def opened(
    mailbox: MemoryReplyMailbox, ingress: AnsweringIngress, *docs: dict[str, Any], **kw: Any
) -> list[dict[str, Any]]:
    """Post each callback; the response bodies."""
    channel = make_channel(mailbox, **kw)
    bodies = []
    async with webhook_client(channel, ingress) as client:
        for doc in docs:
            signed = vb.sign_callback(TOKEN, doc)
            response = await client.post(
                "/webhooks/viber", data=signed.body, headers=signed.headers
            )
            assert response.status == 200
            bodies.append(await response.json())
    await channel.close()
    return bodies


async def test_the_workers_answer_is_the_welcome() -> None:
    mailbox = MemoryReplyMailbox()
    ingress = AnsweringIngress(mailbox, orjson.dumps(encode_outbound(LINKED)))
    (body,) = await opened(mailbox, ingress, vb.conversation_started(context="CODE123"))
    assert body["text"] == LINKED.text and "receiver" not in body
    keys = [(b["ActionType"], b["Text"]) for b in body["keyboard"]["Buttons"]]
    assert keys == [("reply", "Скасувати"), ("share-phone", "📱 Поділитися номером")]
    assert body["min_api_version"] == 3
    [event] = ingress.channel_events
    assert (event.detail, event.reply_to) == ("CODE123", mailbox.node_id)


async def test_no_link_answer_means_the_configured_welcome() -> None:
    mailbox = MemoryReplyMailbox()
    ingress = AnsweringIngress(mailbox, b"null")  # the worker has nothing to say
    (body,) = await opened(mailbox, ingress, vb.conversation_started(context="CODE123"))
    assert body["text"] == "Вітаємо!"


async def test_no_answer_in_time_means_the_configured_welcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mailbox = MemoryReplyMailbox()
    ingress = AnsweringIngress(mailbox, None)
    with caplog.at_level(logging.WARNING, logger="bots.channels.viber"):
        (body,) = await opened(
            mailbox, ingress, vb.conversation_started(context="CODE123"), timeout=0.01
        )
    assert body["text"] == "Вітаємо!"
    assert "no answer to the deep link" in caplog.text
    assert len(ingress.channel_events) == 1  # enqueued all the same: the link is still made


async def test_a_duplicate_or_no_context_does_not_wait() -> None:
    mailbox = MemoryReplyMailbox()
    ingress = AnsweringIngress(mailbox, None)  # waiting would time out (10 s): it must not
    doc = vb.conversation_started(context="CODE123")
    plain = vb.conversation_started()
    first, again, no_context = await opened(mailbox, ingress, doc, doc, plain, timeout=0.01)
    assert [b["text"] for b in (first, again, no_context)] == ["Вітаємо!"] * 3
    assert ingress.duplicates == 1
    assert [e.reply_to for e in ingress.channel_events] == [mailbox.node_id, None]


def test_a_malformed_answer_is_the_configured_welcome() -> None:
    from bots.channels.viber import _decode_welcome

    assert _decode_welcome(b"{not json") is None
    assert _decode_welcome(b'{"no_text": 1}') is None
    assert _decode_welcome(b"null") is None
    assert _decode_welcome(orjson.dumps(encode_outbound(LINKED))) == LINKED
