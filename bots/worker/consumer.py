"""The worker: consume the queue, run each message through the turn chain, send replies."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bots.channels.rest import encode_replies
from bots.flows.understanding import FALLBACK
from bots.gateway.ingress import inbox_key
from bots.identity.events import NO_ANSWER, LinkEvents
from bots.identity.resolver import IDENTITY_CACHE_SIZE, Identities
from bots.identity.resolver import IDENTITY_CACHE_TTL as IDENTITY_CACHE_TTL
from bots.messages import (
    ChannelEvent,
    EventKind,
    decode_event,
    decode_outbound,
    encode_outbound,
    now_utc,
)
from bots.worker.turn import Next, PendingSend, TurnContext, chain, notice_replies
from storage import fences
from storage.errors import FenceLost, LockTimeout
from storage.fences import fenced
from storage.inbox import is_swept, mark_processed
from storage.queue import Delivery
from storage.repositories.conversations import ConversationRepository
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from storage.sessions import Session
from storage.turns import Reply, Turn, TurnWriter

if TYPE_CHECKING:
    from bots.flows.engine import Dialogue
    from bots.identity.service import IdentityService
    from bots.metrics import Metrics
    from bots.worker.outbox import Outbox
    from handoff.hook import HandoffHook
    from storage.backends import Backends
    from storage.db import Database

log = logging.getLogger(__name__)

FINAL_ATTEMPT = 3  # from this delivery attempt on, a failing turn answers with an apology
TOUCH_EVERY = timedelta(seconds=60)


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
        clock: Callable[[], datetime] = now_utc,
        identity: IdentityService | None = None,
        handoff: HandoffHook | None = None,
    ) -> None:
        self.handoff = handoff  # tickets, relay to agents, CSAT; None: the bot only marks it
        self.db = db
        self.identity = identity  # linking by deep link / verified phone; None: off
        self.identities = Identities(db, identity)  # identity -> customer, with its cache
        self.link_events = LinkEvents(identity, dialogue.t) if identity is not None else None
        self.clock = clock  # "now" of every turn; tests pin it (bots.flows.clock.Clock)
        self.backends = backends
        self.nlu = nlu
        self.dialogue = dialogue
        self.outbox = outbox
        if handoff is not None:
            # an agent's reply that ends sent, failed or undeliverable is reported to the ticket
            outbox.on_delivery(handoff.delivery_ended)
        self.metrics = metrics
        self.lock_timeout = lock_timeout
        self.timezone = timezone
        self.review_log = review_log
        self.send_lease = timedelta(seconds=send_lease)
        self.turns = TurnWriter(db)
        self._touched: dict[tuple[str, str], datetime] = {}
        self._turn = chain(
            [
                self._mw_metrics,
                self.identities.mw_identity,
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

    async def close(self) -> None:
        await self.turns.close()

    async def handle(self, delivery: Delivery) -> None:
        event = decode_event(delivery.body)
        if isinstance(event, ChannelEvent):
            await self._handle_event(event)
            mark_processed(self.db, *inbox_key(event))
            return
        # a message the inbox sweeper put back may have been processed already: it is looked
        # up in the transcript first, as a redelivery is
        attempt = max(delivery.attempt, 2) if is_swept(delivery.body) else delivery.attempt
        ctx = TurnContext(message=event, attempt=attempt, now=self.clock())
        # Every write of the turn commits only while the partition lease it was read under is
        # current; otherwise `FenceLost` abandons the turn (the new holder redoes it).
        with fenced(delivery.fence):
            await self._turn(ctx)
        mark_processed(self.db, *inbox_key(event))  # batched; the durable inbox row is done

    # ---- channel events ----------------------------------------------------------------------

    async def _handle_event(self, event: ChannelEvent) -> None:
        failed_receipt = False
        async with self.db.transaction() as s:
            if event.kind in (EventKind.BLOCKED, EventKind.UNBLOCKED):
                reachable = event.kind is EventKind.UNBLOCKED
                await CustomerRepository(s).set_reachable(event.channel, event.user_id, reachable)
                log.info("%s user %s reachable=%s", event.channel, event.user_id, reachable)
            elif event.kind in (EventKind.DELIVERED, EventKind.SEEN, EventKind.FAILED):
                if event.message_id:
                    changed = await MessageRepository(s).set_delivery_status(
                        event.channel, event.message_id, event.kind.value, event.detail
                    )
                    failed_receipt = changed and event.kind is EventKind.FAILED
            elif event.kind is EventKind.CONVERSATION_STARTED and self.identity and event.detail:
                pass  # linked below, outside this transaction (a merge takes customer locks)
            else:
                log.info("%s event %s from %s", event.channel, event.kind, event.user_id)
        if failed_receipt and self.handoff is not None and event.message_id:
            # the platform could not deliver a sent reply after all (Viber `failed`): an
            # agent's reply is reported to its ticket, once the status is committed
            await self.handoff.receipt_failed(event.channel, event.message_id, event.detail)
        if event.kind is EventKind.CONVERSATION_STARTED and self.link_events and event.detail:
            # Viber `context` / Instagram `ref` of a "continue in ..." link: link, and say so
            now = self.clock()
            pending = await self.link_events.handle(event, now)
            self.identities.forget(event.channel, event.user_id)
            if pending is not None:
                self.outbox.dispatch(pending, last_inbound_at=now)
        elif event.reply_to is not None:
            # a gateway waits for an answer only a link gives: it uses its own welcome
            await self.backends.mailbox.deliver(event.reply_to, event.event_id, NO_ANSWER)

    # ---- middlewares -------------------------------------------------------------------------

    async def _mw_metrics(self, ctx: TurnContext, nxt: Next) -> None:
        started = time.perf_counter()
        await nxt(ctx)
        if not ctx.duplicate:  # a redelivery of a stored turn only re-sends: not a new turn
            self.metrics.processing_seconds.observe(time.perf_counter() - started)
            self.metrics.processed.labels(channel=ctx.message.channel).inc()

    async def _mw_errors(self, ctx: TurnContext, nxt: Next) -> None:
        try:
            await nxt(ctx)
        except FenceLost:
            raise  # not a failure of the turn: another process owns it now
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

    async def _mw_lock(self, ctx: TurnContext, nxt: Next) -> None:
        assert ctx.customer_id is not None
        for _ in range(3):
            async with self.backends.locks.hold(ctx.customer_id, self.lock_timeout):
                if not await self.identities.moved(ctx):
                    await nxt(ctx)
                    return
            # Merged into another profile (or a merge undone) since the identity was looked
            # up: the lock key changed, so look it up again and lock the right customer.
            await self.identities.relookup(ctx)
        raise LockTimeout(f"identity {ctx.message.channel}:{ctx.message.user_id} keeps moving")

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
        if ctx.attempt > 1 and await self._repair_if_stored(ctx):
            return
        await nxt(ctx)

    async def _repair_if_stored(self, ctx: TurnContext) -> bool:
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
        # The session as it will be once saved, stored with the message: if this process dies
        # between the commit and the session save, the redelivery restores it (`_repair`).
        snapshot = dataclasses.asdict(session)
        snapshot["version"] = session.version + 1
        conversation_id = session.data.get("conversation_id")
        if conversation_id is None:
            async with self.db.transaction() as s:
                conversation = await ConversationRepository(s).current_or_new(
                    ctx.customer_id, ctx.now
                )
            conversation_id = session.data["conversation_id"] = conversation.id
            snapshot["data"]["conversation_id"] = conversation_id
        status = "sent" if synchronous else "pending"
        # The replies' send lease runs on the real clock (the bot's clock may be pinned) from
        # before the write, so this process never believes it holds them longer than it does.
        lease_start, held_until = time.monotonic(), now_utc() + self.send_lease
        turn = Turn(
            customer_id=ctx.customer_id,
            conversation_id=conversation_id,
            channel=msg.channel,
            external_user_id=msg.user_id,
            platform_message_id=msg.message_id,
            text=msg.text,
            payload=msg.payload,
            intent=intent,
            session_snapshot=snapshot,
            now=ctx.now,
            # pending replies are sent by this process right after the commit; the outbox
            # sweeper takes over only if this process dies before that
            replies=[
                Reply(r.sender, r.text, encode_outbound(r), status, held_until) for r in ctx.replies
            ],
            touch=self._needs_touch(ctx),
            fence=fences.current(),
            claimed_by=self.outbox.owner,
        )
        written = await self.turns.write(turn)
        if written.inbound_id is None:
            # Processed already (a platform retry that slipped past the dedup window, or a
            # redelivery that looked new): what that turn stored is what counts, and its
            # unsent replies go out in their place in the chat's order.
            ctx.replies = []
            if not await self._repair_if_stored(ctx):
                ctx.duplicate = True
            return
        ctx.inbound_row_id = written.inbound_id
        if ctx.bot_silent and self.handoff is not None:
            # Kept from the bot for an open ticket: relayed to the agent now that it is in the
            # transcript (a console reloading the ticket on the live event finds it there).
            await self.handoff.relay(ctx)
        if not synchronous:
            ctx.to_send.extend(
                PendingSend(row_id, msg.channel, msg.user_id, reply, claimed_at=lease_start)
                for row_id, reply in zip(written.reply_ids, ctx.replies, strict=True)
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

    async def _mw_handoff_gate(self, ctx: TurnContext, nxt: Next) -> None:
        assert ctx.session is not None
        handoff = self.handoff
        if handoff is not None:
            # While a ticket is open the message goes to it (not to flows: old buttons do
            # nothing); right after a close, a 1-5 answer is the CSAT score.
            notices = await handoff.intercept(ctx)
            if notices is not None:
                ctx.bot_silent = ctx.session.handoff is not None
                ctx.replies.extend(notice_replies(notices))
                return
        if ctx.session.handoff == "agent":
            # A person owns this conversation: the bot stays silent; the message is stored
            # (persist) and relayed to the agent by the handoff package.
            ctx.bot_silent = True
            return
        if handoff is None:
            await nxt(ctx)
            return
        try:
            await nxt(ctx)
        except FenceLost:
            raise
        except Exception:
            if ctx.attempt >= FINAL_ATTEMPT:
                await handoff.on_failure(ctx)  # the ticket exists before the apology
            raise
        # an escalation of this turn (or a business rule) opens the ticket: say the wait
        ctx.replies.extend(notice_replies(await handoff.after_turn(ctx)))

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
        snapshot = row.session_snapshot
        if snapshot and session.version < snapshot["version"]:
            # The turn was stored but its session was not saved before the crash: restore it.
            restored = Session(**{**snapshot, "version": session.version})
            await self.backends.sessions.save(restored)
            log.info("restored session of customer %s from message %s", ctx.customer_id, row.id)
        ticket_id = ((snapshot or {}).get("data") or {}).get("ticket_id")
        if self.handoff is not None and ticket_id is not None and not replies:
            # Kept from the bot for a ticket: the first run may have died between the commit
            # and the live relay, so relay it again (consoles drop repeats by event id).
            await self.handoff.relay(ctx, int(ticket_id))
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
