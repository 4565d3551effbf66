"""Conversations: one open conversation per customer at a time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation

__all__ = ["ConversationRepository"]


class ConversationRepository:
    """Reads and opens conversations."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current_or_new(self, customer_id: int, now: dt.datetime) -> Conversation:
        """The customer's latest open conversation, or a new one; ``last_message_at`` = now.

        Callers hold the customer's lock, so two open conversations cannot race into being.
        """
        conversation = await self.session.scalar(
            select(Conversation)
            .where(Conversation.customer_id == customer_id, Conversation.status == "open")
            .order_by(Conversation.started_at.desc(), Conversation.id.desc())
            .limit(1)
        )
        if conversation is None:
            conversation = Conversation(customer_id=customer_id, status="open", started_at=now)
            self.session.add(conversation)
        conversation.last_message_at = now
        await self.session.flush()
        return conversation
