"""The outbox across processes: a reply held by a live process is never sent by another."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from pathlib import Path

from aiohttp import web

from bots.channels.base import ChannelLimits, Ingress, SendContext
from bots.messages import OutboundMessage, PendingSend, SentMessage, encode_outbound
from bots.metrics import Metrics
from bots.worker.outbox import Outbox
from storage.db import Database
from storage.models import Customer
from storage.repositories.messages import MessageRepository
from tests.fakes import wait_until


class RecordingChannel:
    """A real (if tiny) channel: it paces like a platform and records what it sent."""

    name = "slow"

    def __init__(self, per_chat_rate: float) -> None:
        self.limits = ChannelLimits(
            max_text=100, max_buttons=0, max_button_title=10, per_chat_rate=per_chat_rate
        )
        self.sent: list[tuple[str, str]] = []

    def routes(self, ingress: Ingress) -> list[web.RouteDef]:
        return []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(
        self, recipient_id: str, message: OutboundMessage, context: SendContext
    ) -> SentMessage:
        self.sent.append((recipient_id, message.text))
        return SentMessage(platform_message_id=str(len(self.sent)))


async def test_a_reply_waiting_in_a_live_lane_is_not_swept_by_another_process(
    tmp_path: Path, _sqlite_template: Path
) -> None:
    shutil.copyfile(_sqlite_template, tmp_path / "o.db")
    url = f"sqlite+aiosqlite:///{tmp_path / 'o.db'}"
    db_a, db_b = Database(url), Database(url)
    lease = 0.6
    # One message every 2 s to a chat, burst 3: the 4th reply waits ~2 s, over 3 leases.
    channel_a, channel_b = RecordingChannel(0.5), RecordingChannel(0.5)
    a = Outbox(db_a, {"slow": channel_a}, Metrics(), lease=lease)
    b = Outbox(db_b, {"slow": channel_b}, Metrics(), lease=lease)
    now = dt.datetime.now(dt.UTC)
    replies = [OutboundMessage(text=f"reply {i}") for i in range(4)]
    async with db_a.transaction() as s:
        customer = Customer(display_name="C")
        s.add(customer)
        await s.flush()
        ids = [
            (await MessageRepository(s).add_outbound(
                customer.id, None, "slow", "chat-1", "bot", r.text, encode_outbound(r), None,
                now, due_at=now + dt.timedelta(seconds=lease),
            )).id
            for r in replies
        ]  # fmt: skip
    stop = asyncio.Event()
    sweepers = [asyncio.create_task(o.run_sweeper(stop, interval=0.1)) for o in (a, b)]
    try:
        for row_id, reply in zip(ids, replies, strict=True):
            a.dispatch(PendingSend(row_id, "slow", "chat-1", reply))
        await wait_until(lambda: len(channel_a.sent) == 4, timeout=10, what="all four sent")
        await asyncio.sleep(lease * 2)  # give the other sweeper every chance to misbehave
    finally:
        stop.set()
        await asyncio.gather(*sweepers)
        await a.drain()
        await b.drain()
    assert [t for _, t in channel_a.sent] == [r.text for r in replies]
    assert channel_b.sent == []  # the other process sent nothing a second time
    async with db_a.session() as s:
        rows = await MessageRepository(s).transcript(customer.id)
        assert [r.status for r in rows] == ["sent"] * 4
    await db_a.dispose()
    await db_b.dispose()


async def test_a_lane_waits_for_an_earlier_reply_another_process_holds(
    tmp_path: Path, _sqlite_template: Path
) -> None:
    """A redelivered turn hands this process a reply that another (stalled or dead) process
    still holds: the chat's later replies wait for it instead of overtaking it."""
    shutil.copyfile(_sqlite_template, tmp_path / "o.db")
    url = f"sqlite+aiosqlite:///{tmp_path / 'o.db'}"
    db = Database(url)
    lease = 1.0
    channel = RecordingChannel(100.0)
    b = Outbox(db, {"slow": channel}, Metrics(), lease=lease, owner="b")
    now = dt.datetime.now(dt.UTC)
    first, second = OutboundMessage(text="first"), OutboundMessage(text="second")
    async with db.transaction() as s:
        customer = Customer(display_name="C")
        s.add(customer)
        await s.flush()
        repo = MessageRepository(s)
        held = await repo.add_outbound(
            customer.id, None, "slow", "chat-1", "bot", "first", encode_outbound(first), None,
            now, due_at=now + dt.timedelta(seconds=lease),
        )  # fmt: skip
        held.claimed_by = "a"  # a process that stopped holding it
        mine = await repo.add_outbound(
            customer.id, None, "slow", "chat-1", "bot", "second", encode_outbound(second), None,
            now, due_at=now + dt.timedelta(seconds=lease),
        )  # fmt: skip
        held_id, mine_id = held.id, mine.id
    try:
        b.dispatch(PendingSend(held_id, "slow", "chat-1", first))  # from a redelivered turn
        b.dispatch(PendingSend(mine_id, "slow", "chat-1", second, claimed_at=None))
        await wait_until(lambda: len(channel.sent) == 2, timeout=30, what="both sent")
    finally:
        await b.drain()
        await db.dispose()
    assert [t for _, t in channel.sent] == ["first", "second"]
