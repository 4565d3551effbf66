"""The worker: the queue's handler. Each delivery is a channel event or one turn of one
message (`bots.worker.steps.TurnSteps`), run fenced by the partition lease it was read under,
and acked once its replies are stored (`Worker.handle`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from bots.flows.linking import link_event_reply
from bots.identity.events import NO_ANSWER, LinkEvents
from bots.identity.resolver import Identities
from bots.logs import correlated
from bots.messages import (
    ChannelEvent,
    EventKind,
    InboundMessage,
    decode_event,
    inbox_key,
    now_utc,
)
from bots.worker.steps import ProactiveSteps, TurnSteps
from bots.worker.store import TurnStore
from bots.worker.turn import TurnContext
from storage.fences import fenced
from storage.inbox import is_swept, mark_processed
from storage.queue import Delivery
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository

if TYPE_CHECKING:
    from bots.flows.engine import Dialogue
    from bots.identity.service import IdentityService
    from bots.metrics import Metrics
    from bots.worker.analytics import TurnAnalytics
    from bots.worker.outbox import Outbox
    from handoff.hook import HandoffHook
    from nlu import NluModel, ReviewLog
    from storage.backends import Backends
    from storage.db import Database

log = logging.getLogger(__name__)


class Worker:
    """Processes queue deliveries. One instance per process; `handle` is the queue handler."""

    def __init__(
        self,
        *,
        db: Database,
        backends: Backends,
        nlu: NluModel,
        dialogue: Dialogue,
        outbox: Outbox,
        metrics: Metrics,
        lock_timeout: float,
        timezone: str,
        review_log: ReviewLog | None = None,
        send_lease: float = 30.0,
        clock: Callable[[], datetime] = now_utc,
        identity: IdentityService | None = None,
        handoff: HandoffHook | None = None,
        proactive: ProactiveSteps | None = None,
        analytics: TurnAnalytics | None = None,
    ) -> None:
        self.handoff = handoff  # tickets, relay to agents, CSAT; None: the bot only marks it
        self.db = db
        self.identity = identity  # linking by deep link / verified phone; None: off
        self.identities = Identities(db, identity)  # identity -> customer, with its cache
        self.link_events = (
            LinkEvents(identity, partial(link_event_reply, dialogue.t))
            if identity is not None
            else None
        )
        self.clock = clock  # "now" of every turn; tests pin it (bots.flows.clock.Clock)
        self.backends = backends
        self.outbox = outbox
        if handoff is not None:
            # an agent's reply that ends sent, failed or undeliverable is reported to the ticket
            outbox.on_delivery(handoff.delivery_ended)
        self.store = TurnStore(
            db=db,
            backends=backends,
            outbox=outbox,
            handoff=handoff,
            send_lease=send_lease,
            analytics=analytics,
        )
        self.turn = TurnSteps(
            backends=backends,
            identities=self.identities,
            nlu=nlu,
            dialogue=dialogue,
            store=self.store,
            outbox=outbox,
            metrics=metrics,
            handoff=handoff,
            lock_timeout=lock_timeout,
            timezone=timezone,
            review_log=review_log,
            proactive=proactive,
        )

    async def close(self) -> None:
        await self.store.close()

    async def handle(self, delivery: Delivery) -> None:
        """One delivery. Returning is the permission to ack it (`storage.queue` acks after
        the handler returns), so it returns only after the turn's replies are stored."""
        event = decode_event(delivery.body)
        if isinstance(event, ChannelEvent):
            await self._handle_event(event)
            self.ack_after_replies_stored(event)
            return
        # a message the inbox sweeper put back may have been processed already: it is looked
        # up in the transcript first, as a redelivery is
        attempt = max(delivery.attempt, 2) if is_swept(delivery.body) else delivery.attempt
        ctx = TurnContext(message=event, attempt=attempt, now=self.clock())
        # Every write of the turn commits only while the partition lease it was read under is
        # current; otherwise `FenceLost` abandons the turn (the new holder redoes it). Its log
        # lines carry the id the gateway gave the message.
        with fenced(delivery.fence), correlated(event.correlation_id):
            await self.turn.run(ctx)
        self.ack_after_replies_stored(event)

    def ack_after_replies_stored(self, event: InboundMessage | ChannelEvent) -> None:
        """Where a message is acked: its durable inbox row is marked done here (batched), and
        the queue acks the delivery as `handle` returns. Reached only after the turn stored
        its replies (`TurnSteps.store_turn`); a crash before it redelivers the message, whose
        stored turn is then repaired (`TurnStore.repair_if_stored`), not run again."""
        mark_processed(self.db, *inbox_key(event))

    # ---- channel events ----------------------------------------------------------------------

    async def _handle_event(self, event: ChannelEvent) -> None:
        failed_receipt = await self._record_event(event)
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

    async def _record_event(self, event: ChannelEvent) -> bool:
        """Reachability and delivery receipts; True when a sent reply's receipt says failed."""
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
        return failed_receipt
