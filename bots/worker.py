"""The worker: consume the queue, run each message through the turn chain, send replies."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bots.channels.rest import encode_replies
from bots.flows.understanding import FALLBACK
from bots.messages import (
    ChannelEvent,
    EventKind,
    decode_event,
    decode_outbound,
    encode_outbound,
    now_utc,
)
from bots.pipeline import Next, PendingSend, TurnContext, chain
from storage.queue import Delivery
from storage.repositories.conversations import ConversationRepository
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from storage.sessions import Session

if TYPE_CHECKING:
    from bots.flows.engine import Dialogue
    from bots.metrics import Metrics
    from bots.outbox import Outbox
    from storage.backends import Backends
    from storage.db import Database

log = logging.getLogger(__name__)

FINAL_ATTEMPT = 3  # from this delivery attempt on, a failing turn answers with an apology


class Worker:
    """Processes queue deliveries. One instance per process; `handle` is the queue handler."""

    def __init__(
        self,
        *,
        db: Database,
        backends: Backends,
        nlu: Any,
        dialogue: Dialogue,
        outbox: Outbox,
        metrics: Metrics,
        lock_timeout: float,
        timezone: str,
        review_log: Any = None,
        send_lease: float = 30.0,
    ) -> None:
        self.db = db
        self.backends = backends
        self.nlu = nlu
        self.dialogue = dialogue
        self.outbox = outbox
        self.metrics = metrics
        self.lock_timeout = lock_timeout
        self.timezone = timezone
        self.review_log = review_log
        self.send_lease = timedelta(seconds=send_lease)
        self._identities: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._turn = chain(
            [
                self._mw_metrics,
                self._mw_identity,
                self._mw_lock,
                self._mw_errors,
                self._mw_dispatch,
                self._mw_idempotency,
                self._mw_session,
                self._mw_persist,
                self._mw_handoff_gate,
                self._mw_understand,
            ],
            self._respond,
        )

    async def handle(self, delivery: Delivery) -> None:
        event = decode_event(delivery.body)
        if isinstance(event, ChannelEvent):
            await self._handle_event(event)
            return
        ctx = TurnContext(message=event, attempt=delivery.attempt, now=now_utc())
        await self._turn(ctx)

    # ---- channel events ----------------------------------------------------------------------

    async def _handle_event(self, event: ChannelEvent) -> None:
        async with self.db.transaction() as s:
            if event.kind in (EventKind.BLOCKED, EventKind.UNBLOCKED):
                reachable = event.kind is EventKind.UNBLOCKED
                await CustomerRepository(s).set_reachable(event.channel, event.user_id, reachable)
                log.info("%s user %s reachable=%s", event.channel, event.user_id, reachable)
            elif event.kind in (EventKind.DELIVERED, EventKind.SEEN, EventKind.FAILED):
                if event.message_id:
                    await MessageRepository(s).set_delivery_status(
                        event.channel, event.message_id, event.kind.value, event.detail
                    )
            else:
                log.info("%s event %s from %s", event.channel, event.kind, event.user_id)

    # ---- middlewares -------------------------------------------------------------------------

    async def _mw_metrics(self, ctx: TurnContext, nxt: Next) -> None:
        started = time.perf_counter()
        await nxt(ctx)
        self.metrics.processing_seconds.observe(time.perf_counter() - started)
        self.metrics.processed.labels(channel=ctx.message.channel).inc()

    async def _mw_errors(self, ctx: TurnContext, nxt: Next) -> None:
        try:
            await nxt(ctx)
        except Exception:
            if ctx.attempt < FINAL_ATTEMPT:
                log.exception(
                    "turn failed for %s (attempt %d); it will be retried",
                    ctx.message.dedup_key,
                    ctx.attempt,
                )
                raise
            log.exception(
                "turn failed for %s on attempt %d; answering with an apology and escalating",
                ctx.message.dedup_key,
                ctx.attempt,
            )
            await self._apologise(ctx)

    async def _mw_identity(self, ctx: TurnContext, nxt: Next) -> None:
        msg = ctx.message
        key = (msg.channel, msg.user_id)
        async with self.db.transaction() as s:
            customer, identity = await CustomerRepository(s).resolve_identity(
                msg.channel,
                msg.user_id,
                display_name=msg.user_name,
                language=msg.language_hint,
                now=ctx.now,
            )
        self._identities[key] = customer.id
        ctx.customer_id = customer.id
        ctx.customer_name = customer.display_name
        ctx.customer_phone = customer.phone
        ctx.last_inbound_at = identity.last_inbound_at
        await nxt(ctx)

    async def _mw_lock(self, ctx: TurnContext, nxt: Next) -> None:
        assert ctx.customer_id is not None
        async with self.backends.locks.hold(ctx.customer_id, self.lock_timeout):
            await nxt(ctx)

    async def _mw_dispatch(self, ctx: TurnContext, nxt: Next) -> None:
        await nxt(ctx)
        await self._dispatch(ctx)

    async def _dispatch(self, ctx: TurnContext) -> None:
        """Hand stored replies to the outbox; answer a waiting REST request."""
        if ctx.message.reply_to:
            await self.backends.mailbox.deliver(
                ctx.message.reply_to, ctx.message.message_id, encode_replies(ctx.replies)
            )
        for item in ctx.to_send:
            self.outbox.dispatch(item, last_inbound_at=ctx.now)

    async def _mw_idempotency(self, ctx: TurnContext, nxt: Next) -> None:
        """A redelivered message that was already processed: re-send what is unsent, no new turn."""
        if ctx.attempt > 1:
            msg = ctx.message
            async with self.db.session() as s:
                repo = MessageRepository(s)
                row = await repo.find_inbound(msg.channel, msg.message_id)
                if row is not None:
                    replies = await repo.replies_to(row.id)
            if row is not None:
                await self._repair(ctx, row, replies)
                return
        await nxt(ctx)

    async def _mw_session(self, ctx: TurnContext, nxt: Next) -> None:
        assert ctx.customer_id is not None
        sessions = self.backends.sessions
        ctx.session = await sessions.get(ctx.customer_id)
        await nxt(ctx)
        if not ctx.duplicate:
            ctx.session.last_channel = ctx.message.channel
            ctx.session = await sessions.save(ctx.session)

    async def _mw_persist(self, ctx: TurnContext, nxt: Next) -> None:
        await nxt(ctx)
        msg, session = ctx.message, ctx.session
        assert session is not None and ctx.customer_id is not None
        session.last_channel = msg.channel
        intent = ctx.parse.intent if ctx.parse is not None else None
        synchronous = msg.reply_to is not None
        async with self.db.transaction() as s:
            messages = MessageRepository(s)
            conversation = await ConversationRepository(s).current_or_new(ctx.customer_id, ctx.now)
            inbound = await messages.add_inbound(
                customer_id=ctx.customer_id,
                conversation_id=conversation.id,
                channel=msg.channel,
                external_user_id=msg.user_id,
                platform_message_id=msg.message_id,
                text=msg.text,
                payload=msg.payload,
                intent=intent,
                now=ctx.now,
            )
            if inbound is None:
                # Processed already (a platform retry that slipped past the dedup window).
                ctx.duplicate = True
                ctx.replies = []
                return
            ctx.inbound_row_id = inbound.id
            session.last_inbound_id = inbound.id
            for reply in ctx.replies:
                row = await messages.add_outbound(
                    customer_id=ctx.customer_id,
                    conversation_id=conversation.id,
                    channel=msg.channel,
                    external_user_id=msg.user_id,
                    sender_kind=reply.sender,
                    text=reply.text,
                    body=encode_outbound(reply),
                    in_reply_to_id=inbound.id,
                    now=ctx.now,
                    status="sent" if synchronous else "pending",
                    # sent by this process right after the commit; the sweeper takes over
                    # only if this process dies before that
                    due_at=ctx.now + self.send_lease,
                )
                if not synchronous:
                    ctx.to_send.append(PendingSend(row.id, msg.channel, msg.user_id, reply))
            snapshot = dataclasses.replace(session, version=session.version + 1)
            inbound.session_snapshot = _session_dict(snapshot)
            await CustomerRepository(s).touch(
                ctx.customer_id, msg.channel, ctx.now, external_id=msg.user_id
            )

    async def _mw_handoff_gate(self, ctx: TurnContext, nxt: Next) -> None:
        assert ctx.session is not None
        if ctx.session.handoff == "agent":
            # A person owns this conversation: the bot stays silent; the message is stored
            # (persist) and relayed to the agent by the handoff package.
            ctx.bot_silent = True
            return
        await nxt(ctx)

    async def _mw_understand(self, ctx: TurnContext, nxt: Next) -> None:
        text = ctx.message.text
        if text and not ctx.message.payload:
            ctx.parse = await self.nlu.parse(text, now=ctx.now, tz=self.timezone)
            self.metrics.intents.labels(intent=ctx.parse.intent).inc()
            if self.review_log is not None and ctx.parse.intent == FALLBACK:
                await asyncio.to_thread(self._review, ctx)
        await nxt(ctx)

    async def _respond(self, ctx: TurnContext) -> None:
        ctx.replies = await self.dialogue.respond(ctx)

    # ---- helpers -----------------------------------------------------------------------------

    def _review(self, ctx: TurnContext) -> None:
        try:
            self.review_log.record(
                text=ctx.message.text,
                language=ctx.parse.language,
                ranking=ctx.parse.ranking,
                channel=ctx.message.channel,
                at=ctx.now,
            )
        except OSError:
            log.exception("could not append to the NLU review log")

    async def _repair(self, ctx: TurnContext, row: Any, replies: list[Any]) -> None:
        ctx.duplicate = True
        ctx.inbound_row_id = row.id
        assert ctx.customer_id is not None
        session = await self.backends.sessions.get(ctx.customer_id)
        if row.session_snapshot and session.last_inbound_id != row.id:
            # The turn was stored but its session was not saved before the crash: restore it.
            restored = Session(**{**row.session_snapshot, "version": session.version})
            await self.backends.sessions.save(restored)
            log.info("restored session of customer %s from message %s", ctx.customer_id, row.id)
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

    async def _apologise(self, ctx: TurnContext) -> None:
        ctx.escalation = "processing_error"
        ctx.replies = self.dialogue.apology(ctx)
        ctx.to_send = []
        if ctx.session is None and ctx.customer_id is not None:
            ctx.session = await self.backends.sessions.get(ctx.customer_id)
        if ctx.session is None:
            raise RuntimeError("cannot apologise before the customer is known")
        ctx.session.handoff = "pending"
        ctx.session.data["escalation"] = {"reason": ctx.escalation, "at": ctx.now.isoformat()}
        ctx.parse = None
        await self._mw_persist(ctx, _noop)
        await self.backends.sessions.save(ctx.session)
        await self._dispatch(ctx)


async def _noop(ctx: TurnContext) -> None:
    return None


def _session_dict(session: Session) -> dict[str, Any]:
    return dataclasses.asdict(session)
