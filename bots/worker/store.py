"""Storing a turn: the inbound message, its replies and the session snapshot in one commit, and
the repair of a redelivered message whose turn is stored already (`repair_if_stored`).

A reply is stored `pending` with this process's send lease (`claimed_by`, `claimed_at`) before
the message is acked, and sent after: a process that dies in between leaves it to the redelivery
(repaired here) or to another process's outbox sweeper.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bots.identity.resolver import IDENTITY_CACHE_SIZE
from bots.messages import PendingSend, decode_outbound, encode_outbound, now_utc
from bots.worker.analytics import TurnAnalytics
from bots.worker.turn import TurnContext
from storage import fences
from storage.repositories.conversations import ConversationRepository
from storage.repositories.messages import MessageRepository
from storage.sessions import Session
from storage.turns import Reply, Turn, TurnWriter

if TYPE_CHECKING:
    from bots.worker.outbox import Outbox
    from handoff.hook import HandoffHook
    from storage.backends import Backends
    from storage.db import Database

log = logging.getLogger(__name__)

TOUCH_EVERY = timedelta(seconds=60)


class TurnStore:
    """Writes turns (batched by `TurnWriter`) and repairs redelivered ones."""

    def __init__(
        self,
        *,
        db: Database,
        backends: Backends,
        outbox: Outbox,
        handoff: HandoffHook | None,
        send_lease: float,
        analytics: TurnAnalytics | None = None,
    ) -> None:
        self.db = db
        self.backends = backends
        self.outbox = outbox
        self.handoff = handoff
        self.send_lease = timedelta(seconds=send_lease)
        self.turns = TurnWriter(db)
        self.analytics = analytics or TurnAnalytics()
        self._touched: dict[tuple[str, str], datetime] = {}

    async def close(self) -> None:
        await self.turns.close()

    async def write(self, ctx: TurnContext) -> None:
        """Store the turn; its pending replies go to `ctx.to_send`, held by this process."""
        msg = ctx.message
        synchronous = msg.reply_to is not None
        conversation_id = await self._conversation_id(ctx)
        status = "sent" if synchronous else "pending"
        # The replies' send lease runs on the real clock (the bot's clock may be pinned) from
        # before the write, so this process never believes it holds them longer than it does.
        lease_start, held_until = time.monotonic(), now_utc() + self.send_lease
        # pending replies are sent by this process right after the commit; the outbox
        # sweeper takes over only if this process dies before that
        replies = [
            Reply(r.sender, r.text, encode_outbound(r), status, held_until) for r in ctx.replies
        ]
        written = await self.turns.write(self._turn(ctx, conversation_id, replies))
        if written.inbound_id is None:
            # Processed already (a platform retry that slipped past the dedup window, or a
            # redelivery that looked new): what that turn stored is what counts, and its
            # unsent replies go out in their place in the chat's order.
            ctx.replies = []
            if not await self.repair_if_stored(ctx):
                ctx.duplicate = True
            return
        ctx.inbound_row_id = written.inbound_id
        if ctx.bot_silent and self.handoff is not None:
            # Kept from the bot for an open ticket: relayed to the agent now that it is in the
            # transcript (a console reloading the ticket on the live event finds it there).
            await self.handoff.relay(ctx)
        if not synchronous:
            # Older replies to this chat that a dead or stalled process left unsent go first:
            # the chat's lane waits for their holder's lease instead of overtaking them.
            ctx.to_send.extend(
                PendingSend(row_id, msg.channel, msg.user_id, decode_outbound(body))
                for row_id, body in written.earlier
                if body
            )
            ctx.to_send.extend(
                PendingSend(row_id, msg.channel, msg.user_id, reply, claimed_at=lease_start)
                for row_id, reply in zip(written.reply_ids, ctx.replies, strict=True)
            )

    async def _conversation_id(self, ctx: TurnContext) -> int:
        """The session's conversation, opened (and written into the session) when it has none."""
        session = ctx.session
        assert session is not None and ctx.customer_id is not None
        session.last_channel = ctx.message.channel
        if session.conversation_id is None:
            async with self.db.transaction() as s:
                conversation = await ConversationRepository(s).current_or_new(
                    ctx.customer_id, ctx.now
                )
            session.conversation_id = conversation.id
        return session.conversation_id

    def _turn(self, ctx: TurnContext, conversation_id: int, replies: list[Reply]) -> Turn:
        msg, session = ctx.message, ctx.session
        assert session is not None and ctx.customer_id is not None
        # The session as it will be once saved, stored with the message: if this process dies
        # between the commit and the session save, the redelivery restores it (`_repair`).
        events = self.analytics.facts(ctx)  # before the snapshot: it keeps their state
        snapshot = dataclasses.asdict(session)
        snapshot["version"] = session.version + 1
        return Turn(
            customer_id=ctx.customer_id,
            conversation_id=conversation_id,
            channel=msg.channel,
            external_user_id=msg.user_id,
            platform_message_id=msg.message_id,
            text=msg.text,
            payload=msg.payload,
            intent=ctx.parse.intent if ctx.parse is not None else None,
            session_snapshot=snapshot,
            now=ctx.now,
            replies=replies,
            touch=self._needs_touch(ctx),
            fence=fences.current(),
            claimed_by=self.outbox.owner,
            events=events,
            writes=ctx.writes,
            # a shared contact has no text: the transcript keeps its phone for the timeline,
            # and whether the platform vouched it is the sender's own (typed is not)
            body=(
                {"contact_phone": msg.contact_phone, "contact_verified": msg.contact_verified}
                if msg.contact_phone
                else None
            ),
        )

    def _needs_touch(self, ctx: TurnContext) -> bool:
        """Last-seen times are kept to the minute: one UPDATE a minute per chat, not per message."""
        key = (ctx.message.channel, ctx.message.user_id)
        last = self._touched.get(key)
        if last is not None and ctx.now - last < TOUCH_EVERY:
            return False
        self._touched[key] = ctx.now
        if len(self._touched) > IDENTITY_CACHE_SIZE:
            self._touched.pop(next(iter(self._touched)))
        return True

    # ---- redelivery --------------------------------------------------------------------------

    async def repair_if_stored(self, ctx: TurnContext) -> bool:
        """If the message's turn is in the transcript already, repair what may be missing
        (session, live relay, unsent replies) instead of running it again."""
        msg = ctx.message
        async with self.db.session() as s:
            repo = MessageRepository(s)
            row = await repo.find_inbound(msg.channel, msg.message_id)
            if row is None:
                return False
            replies = await repo.replies_to(row.id)
        await self._repair(ctx, row, replies)
        return True

    async def _repair(self, ctx: TurnContext, row: Any, replies: list[Any]) -> None:
        ctx.duplicate = True
        ctx.inbound_row_id = row.id
        assert ctx.customer_id is not None
        session = await self.backends.sessions.get(ctx.customer_id)
        snapshot = Session.from_dict(row.session_snapshot) if row.session_snapshot else None
        if snapshot is not None and session.version < snapshot.version:
            # The turn was stored but its session was not saved before the crash: restore it.
            restored = dataclasses.replace(snapshot, version=session.version)
            await self.backends.sessions.save(restored)
            log.info("restored session of customer %s from message %s", ctx.customer_id, row.id)
        ticket_id = snapshot.ticket_id if snapshot is not None else None
        if self.handoff is not None and ticket_id is not None and not replies:
            # Kept from the bot for a ticket: the first run may have died between the commit
            # and the live relay, so relay it again (consoles drop repeats by event id).
            await self.handoff.relay(ctx, ticket_id)
        ctx.replies = [decode_outbound(r.body) for r in replies if r.body]
        for r in replies:
            if r.status == "pending":
                ctx.to_send.append(
                    PendingSend(r.id, r.channel, r.external_user_id, decode_outbound(r.body))
                )
        log.info(
            "redelivered %s was processed before: %d replies re-queued, no new turn",
            ctx.message.dedup_key,
            len(ctx.to_send),
        )
