"""A NUL character in a customer's text (PostgreSQL can store it neither as text nor in JSON)
is dropped at the edge: the message is answered on both backends, not retried to the dead
letters."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import Message
from tests.bots.conftest import Service


async def test_a_nul_character_is_dropped_and_the_message_answered(service: Service) -> None:
    resp = await service.rest("nul-1", "hi\u0000 there")
    assert resp.status == 200, await resp.text()
    replies = (await resp.json())["replies"]
    assert replies and replies[0]["text"]
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            texts = (
                await s.scalars(
                    select(Message.text).where(
                        Message.external_user_id == "nul-1", Message.direction == "in"
                    )
                )
            ).all()
    finally:
        await db.dispose()
    assert texts == ["hi there"]
