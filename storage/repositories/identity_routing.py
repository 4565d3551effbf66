"""Reply routing and the cross-channel transcript of `IdentityRepository`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChannelIdentity, Message

__all__ = ["ReplyTarget", "RoutingMixin", "TimelineEntry"]

# Channels that can take a message the customer did not just ask for (REST answers in-request).
_PUSH_CHANNELS = frozenset({"telegram", "viber", "instagram"})
# Instagram's messaging window: 24 h for the bot, 7 days for a human agent (HUMAN_AGENT tag).
_INSTAGRAM_WINDOW = {"bot": dt.timedelta(hours=24), "agent": dt.timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where a proactive or agent message to a customer goes."""

    channel: str
    external_id: str
    last_inbound_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: dt.datetime
    channel: str
    sender: str  # customer | bot | agent
    text: str | None


class RoutingMixin:
    """Where a message we start goes, and what the customer said everywhere."""

    session: AsyncSession

    async def reply_target(
        self,
        customer_id: int,
        *,
        now: dt.datetime,
        purpose: Literal["bot", "agent"] = "agent",
    ) -> ReplyTarget | None:
        """The channel the customer used last that can still receive a message we start:
        reachable (not blocked/unsubscribed), a push channel, and for Instagram inside the
        messaging window (24 h for the bot, 7 days for an agent). None: no such channel."""
        rows = await self.session.scalars(
            select(ChannelIdentity)
            .where(
                ChannelIdentity.customer_id == customer_id,
                ChannelIdentity.reachable.is_(True),
                ChannelIdentity.channel.in_(_PUSH_CHANNELS),
            )
            .order_by(ChannelIdentity.id.desc())
        )
        best: ChannelIdentity | None = None
        floor = dt.datetime.min.replace(tzinfo=dt.UTC)
        for identity in rows:
            last = identity.last_inbound_at
            if identity.channel == "instagram" and (
                last is None or now - last > _INSTAGRAM_WINDOW[purpose]
            ):
                continue
            if best is None or (last or floor) > (best.last_inbound_at or floor):
                best = identity
        if best is None:
            return None
        return ReplyTarget(best.channel, best.external_id, best.last_inbound_at)

    async def timeline(self, customer_id: int, limit: int | None = None) -> list[TimelineEntry]:
        """Every message of the customer across channels, oldest first, tagged with its channel."""
        stmt = select(Message).where(Message.customer_id == customer_id)
        stmt = stmt.order_by(Message.created_at.desc(), Message.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = list(await self.session.scalars(stmt))
        rows.reverse()
        return [
            TimelineEntry(
                r.created_at,
                r.channel,
                r.sender_kind,
                r.text if r.text is not None else (r.body or {}).get("text") or r.payload,
            )
            for r in rows
        ]
