"""The steps of one turn, listed in the order in which they run (`TurnSteps.steps`).

Around them (`TurnSteps.run`): metrics, identity -> customer, the customer's lock, and the
failure scope (retry, or the apology on the last attempt). Then the list: repair a redelivered
turn, load the session, the handoff gate, proactive (a reply ends sequences waiting for one,
opt-out / opt-in words), NLU, proactive (an answer to a reminder), dialogue, the handoff's
after-turn, proactive (an unfinished flow's nudge, alerts), store the transcript and the outbox
rows in one commit, count a message the dialogue did not understand (Prometheus, the NLU review
list), save the session, send. The message is acked by
`bots.worker.consumer.Worker.handle` once all of that returned: after its replies are stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Protocol

from bots.channels.rest import encode_replies
from bots.flows.bot_question import asks_if_bot
from bots.flows.phone_request import close_phone_request
from bots.flows.understood import Understood
from bots.flows.when import as_time_answer
from bots.identity.resolver import Identities
from bots.proactive.hooks_replies import yes_or_no
from bots.worker.analytics import note_answer
from bots.worker.review import asks_personal_data, not_understood, record_for_review
from bots.worker.store import TurnStore
from bots.worker.turn import Step, StepFn, TurnContext, notice_replies
from handoff.callback import asked_if_bot
from storage.errors import BackendUnavailable, FenceLost, LockTimeout
from storage.sessions import EscalationRequest, reads_kept

if TYPE_CHECKING:
    from bots.flows.engine import Dialogue
    from bots.metrics import Metrics
    from bots.worker.outbox import Outbox
    from handoff.hook import HandoffHook
    from nlu import NluModel, ReviewLog
    from storage.backends import Backends

log = logging.getLogger(__name__)

FINAL_ATTEMPT = 3  # from this delivery attempt on, a failing turn answers with an apology
LOCK_TRIES = 3


class ProactiveSteps(Protocol):
    """The proactive side of a turn (`bots.proactive.hooks.ProactiveTurn`, wired by the app)."""

    async def before_bot(self, ctx: TurnContext) -> None: ...

    async def after_nlu(self, ctx: TurnContext) -> None: ...

    async def after_bot(self, ctx: TurnContext) -> None: ...


def redelivered(ctx: TurnContext) -> bool:
    return ctx.attempt > 1


def new_turn(ctx: TurnContext) -> bool:
    """Not a message whose turn is in the transcript already (`repair_redelivery`)."""
    return not ctx.duplicate


def for_the_bot(ctx: TurnContext) -> bool:
    """A new turn the handoff gate left to the bot."""
    return not ctx.duplicate and not ctx.gated


class TurnSteps:
    """One turn of one message: `run(ctx)`."""

    def __init__(
        self,
        *,
        backends: Backends,
        identities: Identities,
        nlu: NluModel,
        dialogue: Dialogue,
        store: TurnStore,
        outbox: Outbox,
        metrics: Metrics,
        handoff: HandoffHook | None,
        lock_timeout: float,
        timezone: str,
        review_log: ReviewLog | None = None,
        proactive: ProactiveSteps | None = None,
    ) -> None:
        self.backends = backends
        self.identities = identities
        self.nlu = nlu
        self.dialogue = dialogue
        self.store = store
        self.outbox = outbox
        self.metrics = metrics
        self.handoff = handoff  # tickets, relay to agents, CSAT; None: the bot only marks it
        self.lock_timeout = lock_timeout
        self.timezone = timezone
        self.review_log = review_log
        self.proactive = proactive  # consent words, replies to proactive messages, alerts
        self.steps: tuple[Step, ...] = (
            Step("repair a redelivered turn", self.repair_redelivery, when=redelivered),
            Step("load the session", self.load_session, when=new_turn),
            Step("handoff gate", self.handoff_gate, when=new_turn),
            Step("proactive: a reply, opt-out / opt-in", self.proactive_before, when=new_turn),
            Step("understand (NLU)", self._escalating(self.understand), when=for_the_bot),
            Step("proactive: an answer to one", self.proactive_answer, when=for_the_bot),
            Step("dialogue", self._escalating(self.respond), when=for_the_bot),
            Step("handoff after the turn", self.handoff_after_turn, when=for_the_bot),
            Step("proactive: nudges and alerts", self.proactive_after, when=for_the_bot),
            Step("store transcript + outbox", self.store_turn, when=new_turn),
            Step("count what was not understood", self.count_not_understood, when=new_turn),
            Step("save the session", self.save_session, when=new_turn),
            Step("send", self.send),
        )

    async def run(self, ctx: TurnContext) -> None:
        """The turn: identity, lock and failure scope around the steps, in list order."""
        started = time.perf_counter()
        await self.identities.identify(ctx)
        async with self.customer_locked(ctx), self.failures_answered(ctx):
            for step in self.steps:
                if step.when(ctx):
                    await step.run(ctx)
        if not ctx.duplicate:  # a redelivery of a stored turn only re-sends: not a new turn
            self.metrics.processing_seconds.observe(time.perf_counter() - started)
            self.metrics.processed.labels(channel=ctx.message.channel).inc()
        log.debug(
            "turn of %s done (attempt %d): %d replies to send",
            ctx.message.channel,
            ctx.attempt,
            len(ctx.to_send),
        )

    # ---- the scopes around the steps ---------------------------------------------------------

    @asynccontextmanager
    async def customer_locked(self, ctx: TurnContext) -> AsyncIterator[None]:
        """The customer's lock for the whole turn; a merge that moved the identity since it was
        looked up changes the lock key, so it is looked up again and the right one taken."""
        assert ctx.customer_id is not None
        for _ in range(LOCK_TRIES):
            # the merge check reads the session and the turn reads it again: under the lock,
            # the second read is served from the first (`storage.sessions.reads_kept`)
            async with self.backends.locks.hold(ctx.customer_id, self.lock_timeout):
                with reads_kept():
                    if not await self.identities.moved(ctx):
                        yield
                        return
            await self.identities.relookup(ctx)
            assert ctx.customer_id is not None
        raise LockTimeout(f"identity {ctx.message.channel}:{ctx.message.user_id} keeps moving")

    @asynccontextmanager
    async def failures_answered(self, ctx: TurnContext) -> AsyncIterator[None]:
        """A failing turn is retried (the queue redelivers it); on the last attempt the
        customer gets an apology and a person instead. A lost fence is no failure of the
        turn: another process owns it now, so it passes through untouched."""
        try:
            yield
        except (FenceLost, BackendUnavailable):
            raise  # not the turn's fault: redone by the new holder / once storage is back
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
            await self.apologise(ctx)

    def _escalating(self, step: StepFn) -> StepFn:
        """A bot step whose failure on the last attempt opens a ticket (before the apology)."""

        async def run(ctx: TurnContext) -> None:
            if self.handoff is None:
                await step(ctx)
                return
            try:
                await step(ctx)
            except (FenceLost, BackendUnavailable):
                raise
            except Exception:
                if ctx.attempt >= FINAL_ATTEMPT:
                    await self.handoff.on_failure(ctx)  # the ticket exists before the apology
                raise

        return run

    # ---- the steps, in order -----------------------------------------------------------------

    async def repair_redelivery(self, ctx: TurnContext) -> None:
        """A redelivered message whose turn is stored already: its unsent replies are re-sent
        (`send`), no new turn."""
        await self.store.repair_if_stored(ctx)

    async def load_session(self, ctx: TurnContext) -> None:
        assert ctx.customer_id is not None
        ctx.session = await self.backends.sessions.get(ctx.customer_id)
        note_answer(ctx)  # the proactive message it answers, before a step consumes it

    async def handoff_gate(self, ctx: TurnContext) -> None:
        """While a ticket is open the message goes to it (not to flows: old buttons do
        nothing); right after a close, a 1-5 answer is the CSAT score. When a person owns
        the conversation the bot stays silent: the message is stored and relayed."""
        assert ctx.session is not None
        if self.handoff is not None:
            notices = await self.handoff.intercept(ctx)
            if notices == [] and asks_if_bot(ctx.message.text):  # silent: G13, trial 5
                language = ctx.session.language or self.handoff.service.config.default_language
                data, phone = ctx.session.data, ctx.customer_phone
                notices = asked_if_bot(self.handoff.service, data, language, phone)
            if notices is not None:
                ctx.bot_silent = ctx.session.handoff is not None
                ctx.replies.extend(close_phone_request(ctx.session, notice_replies(notices)))
                ctx.gated = True
                return
        if ctx.session.handoff == "agent":
            ctx.bot_silent = ctx.gated = True

    async def proactive_before(self, ctx: TurnContext) -> None:
        """A message ends the proactive sequences waiting for a reply; "відписатися" / a
        marketing message's unsubscribe button is recorded and answered here (`ctx.gated`)."""
        if self.proactive is not None:
            await self.proactive.before_bot(ctx)

    async def proactive_answer(self, ctx: TurnContext) -> None:
        """A "yes" / "no" to a proactive message ("Still on for tomorrow at 15:00?")."""
        if self.proactive is not None:
            await self.proactive.after_nlu(ctx)
            if ctx.gated:  # answered there, not by the dialogue: that yes or no was understood
                ctx.understood = _yes_or_no_answered(ctx)

    async def proactive_after(self, ctx: TurnContext) -> None:
        """An unfinished flow's nudge (re)armed or cancelled; a repeated intent's alert."""
        if self.proactive is not None:
            await self.proactive.after_bot(ctx)

    async def understand(self, ctx: TurnContext) -> None:
        """The model's reading of the text. Whether the message was understood is the
        dialogue's to say (`TurnContext.understood`), counted once the turn is stored."""
        ctx.personal_answer = asks_personal_data(ctx)  # before the dialogue moves the session
        text = ctx.message.text
        if text and not ctx.message.payload:
            ctx.parse = await self.nlu.parse(text, now=ctx.now, tz=self.timezone)
            ctx.parse = as_time_answer(ctx.parse, ctx.session)  # bots.flows.when
            self.metrics.intents.labels(intent=ctx.parse.intent).inc()  # the model's reading

    async def respond(self, ctx: TurnContext) -> None:
        ctx.replies = await self.dialogue.respond(ctx)

    async def handoff_after_turn(self, ctx: TurnContext) -> None:
        """An escalation of this turn (or a business rule) opens the ticket: say the wait."""
        if self.handoff is not None:
            # a call back's "which number?" carries the share button: the next reply, the
            # dialogue's or the handoff's, takes it away (`bots.flows.phone_request`, T3)
            notices = notice_replies(await self.handoff.after_turn(ctx))
            assert ctx.session is not None
            ctx.replies.extend(close_phone_request(ctx.session, notices))

    async def store_turn(self, ctx: TurnContext) -> None:
        """The inbound message, its replies (pending, with this process's send lease) and the
        session snapshot in one commit: from here on a redelivery repairs instead of redoing."""
        await self.store.write(ctx)

    async def count_not_understood(self, ctx: TurnContext) -> None:
        """A message the dialogue answered as not understood, once its turn is stored (a
        redelivered or re-run turn is stored once, so it is counted once): Prometheus' fallback
        counter, and the NLU review list."""
        if not not_understood(ctx):
            return
        self.metrics.nlu_fallbacks.labels(channel=ctx.message.channel).inc()
        if self.review_log is not None:
            await asyncio.to_thread(record_for_review, self.review_log, ctx)

    async def save_session(self, ctx: TurnContext) -> None:
        assert ctx.session is not None
        ctx.session.last_channel = ctx.message.channel
        ctx.session = await self.backends.sessions.save(ctx.session)

    async def send(self, ctx: TurnContext) -> None:
        """Hand the stored replies to the outbox (it sends them in its own tasks, with
        retries); answer a waiting REST request."""
        if ctx.message.reply_to:
            await self.backends.mailbox.deliver(
                ctx.message.reply_to, ctx.message.message_id, encode_replies(ctx.replies)
            )
        for i, item in enumerate(ctx.to_send):
            item.correlation_id = ctx.message.correlation_id
            if i == 0:  # the message's latency ends with its first reply
                item.received_at = ctx.message.received_at
            self.outbox.dispatch(item, last_inbound_at=ctx.now)

    # ---- helpers -----------------------------------------------------------------------------

    async def apologise(self, ctx: TurnContext) -> None:
        """The last attempt failed: an apology, stored and sent, and the session marked for a
        person."""
        ctx.escalation = "processing_error"
        ctx.replies = self.dialogue.apology(ctx)
        ctx.to_send = []
        if ctx.session is None and ctx.customer_id is not None:
            ctx.session = await self.backends.sessions.get(ctx.customer_id)
        if ctx.session is None:
            raise RuntimeError("cannot apologise before the customer is known")
        ctx.session.handoff = "pending"
        ctx.session.escalation = EscalationRequest(ctx.escalation, at=ctx.now.isoformat())
        ctx.parse, ctx.understood = None, None  # the turn failed: nothing was answered
        await self.store.write(ctx)
        await self.backends.sessions.save(ctx.session)
        await self.send(ctx)


def _yes_or_no_answered(ctx: TurnContext) -> Understood | None:
    """The reading of a yes or no the proactive step answered (`bots.proactive.hooks_replies`)."""
    answer = yes_or_no(ctx)
    if answer is None:
        return None
    if ctx.message.payload:
        return Understood(answer, "button")
    return Understood(
        answer, "nlu" if ctx.parse is not None and ctx.parse.intent == answer else "rule"
    )
