"""The proactive side of a customer's turn (`ProactiveTurn`), run as steps of
`bots.worker.steps.TurnSteps`:

1. before the NLU (`before_bot`): whatever the customer writes after a proactive message (or
   after a ticket's follow-up was scheduled) ends the sequences that wait for a reply
   (``cancel_on: [reply]``: the abandoned cart's next nudge, a ticket's follow-up); an
   opt-out or opt-in by words or button is recorded as consent (time, source, the text shown
   and said) and answered, and the message goes no further;
2. after the NLU (`after_nlu`): a reply to a proactive message is read in its light
   (`bots.proactive.hooks_replies`);
3. after the dialogue (`after_bot`): an unfinished flow arms its "you did not finish" nudge,
   a finished one disarms it (`hooks_flows`); the same intent asked too often opens a task for
   agents (`hooks_alerts`).

Each writes in its own short transaction, fenced like the rest of the turn (the flow nudges in
the turn's own commit, `hooks_flows`), and only when there is something to write (an ordinary
message costs no query); a redelivered message repeats them harmlessly (triggers are keyed by
the message, consents are a log).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bots.flows.templates import Templates
from bots.messages import OutboundMessage
from bots.proactive.hooks_alerts import Alerts
from bots.proactive.hooks_flows import FlowWatch
from bots.proactive.hooks_replies import (
    PROACTIVE,
    WAITS,
    ProactiveReplies,
    last_proactive,
    reply_language,
)
from bots.proactive.optout import ALL_TOPICS, Choice, read_choice
from bots.proactive.scenarios import Scenarios
from bots.proactive.triggers import set_consent
from bots.proactive.turn_view import TurnView
from storage.models import Message
from storage.proactive_models import ProactiveJob
from storage.repositories.proactive import ProactiveRepository

if TYPE_CHECKING:
    from handoff.hook import HandoffHook
    from storage.db import Database

__all__ = ["ProactiveTurn"]

log = logging.getLogger(__name__)

MAX_CONSENT_TEXT = 2000


class ProactiveTurn:
    """Built once per worker process; its three methods are steps of every turn."""

    def __init__(
        self,
        *,
        db: Database,
        scenarios: Scenarios,
        templates: Templates,
        handoff: HandoffHook | None = None,
        default_language: str = "uk",
    ) -> None:
        self.db = db
        self.scenarios = scenarios
        self.t = templates
        self.default_language = default_language
        self.replies = ProactiveReplies(scenarios, templates, default_language)
        self.flows = FlowWatch(scenarios, templates)
        self.alerts = Alerts(scenarios, handoff)

    # ---- the steps -------------------------------------------------------------------------

    async def before_bot(self, ctx: TurnView) -> None:
        """A reply ends what waits for one; a consent choice is recorded and answered."""
        await self.signal_reply(ctx)
        if not ctx.gated:
            await self.consent(ctx)

    async def after_nlu(self, ctx: TurnView) -> None:
        await self.replies.read(ctx)

    async def after_bot(self, ctx: TurnView) -> None:
        await self.flows.watch(ctx)
        await self.alerts.check(ctx)

    # ---- a reply ---------------------------------------------------------------------------

    async def signal_reply(self, ctx: TurnView) -> int:
        """Cancel the customer's pending messages that wait for a reply, when one may: after a
        proactive message was sent (the scheduler leaves its context in the session) or a
        follow-up was scheduled (`WAITS`). A turn with neither costs nothing; the flow nudges
        are left to `hooks_flows` (going on in the flow moves them, a reply does not end them)."""
        session = ctx.session
        customer_id = ctx.customer_id
        assert session is not None and customer_id is not None
        if PROACTIVE not in session.data and not session.data.pop(WAITS, None):
            return 0
        nudges = self.flows.names
        async with self.db.transaction() as s:
            repo = ProactiveRepository(s)
            waiting = [
                job
                for job in await repo.pending(customer_id)
                if "reply" in (job.cancel_on or ()) and job.scenario not in nudges
            ]
            cancelled = await repo.cancel_jobs(waiting, "the customer wrote", ctx.now)
        if cancelled:
            log.info("customer %s replied: %d pending message(s) cancelled", customer_id, cancelled)
        return cancelled

    # ---- opting out and in -------------------------------------------------------------------

    async def consent(self, ctx: TurnView) -> bool:
        """Record and answer an opt-out or opt-in; True when the message was one."""
        session = ctx.session
        assert session is not None and ctx.customer_id is not None
        choice = read_choice(ctx.message.text, ctx.message.payload)
        if choice is None:
            return False
        recent = last_proactive(session, ctx.now)
        if choice.bare and (recent is None or session.flow is not None):
            return False  # "stop" inside a flow stops the flow (the dialogue's)
        topics = self.topics(choice, recent)
        if not topics:
            return False
        language = self.language(ctx)
        names = self._names(topics, language)
        key = "proactive_opted_in" if choice.granted else "proactive_opted_out"
        answer = self.t(key, language, topics=names)
        shown = await self._shown(recent) if recent is not None else None
        text = _consent_text(ctx, shown, answer)
        source = f"{ctx.message.channel}:{'button' if choice.button else 'text'}"
        async with self.db.transaction() as s:
            for topic in topics:
                await set_consent(
                    s,
                    customer_id=ctx.customer_id,
                    topic=topic,
                    granted=choice.granted,
                    source=source,
                    text=text,
                    at=ctx.now,
                )
        log.info(
            "customer %s %s %s (%s)",
            ctx.customer_id,
            "opted in to" if choice.granted else "opted out of",
            ",".join(topics),
            source,
        )
        session.data.pop(PROACTIVE, None)
        session.language = language
        ctx.replies.append(OutboundMessage(text=answer))
        ctx.gated = True  # answered here: no NLU, no flows this turn
        return True

    def topics(self, choice: Choice, recent: dict[str, object] | None) -> tuple[str, ...]:
        """The topics a choice is about: those it names (every topic for "all"); a bare
        "stop": the last proactive message's; else that message's topic when it needs
        consent, or the topics that need consent (marketing)."""
        known = self.scenarios.topics
        if choice.topics == (ALL_TOPICS,):
            return tuple(known)
        if choice.topics:
            return tuple(t for t in choice.topics if t in known)
        scenario = self.scenarios.get(str(recent.get("scenario"))) if recent else None
        if choice.bare:
            return (scenario.topic,) if scenario is not None else ()
        if scenario is not None and self.scenarios.topic(scenario.topic).consent == "required":
            return (scenario.topic,)
        return tuple(name for name, topic in known.items() if topic.consent == "required")

    def language(self, ctx: TurnView) -> str:
        return reply_language(ctx, self.default_language)

    def _names(self, topics: tuple[str, ...], language: str) -> str:
        names = self.t.raw("proactive_topic_names", language)
        return ", ".join(
            str(names[t]) if t in names else str(names["other"]).format(topic=t) for t in topics
        )

    async def _shown(self, recent: dict[str, object]) -> str | None:
        """The text of the proactive message the customer answers (its transcript row)."""
        message_id, job_id = recent.get("message_id"), recent.get("job_id")
        async with self.db.session() as s:
            if not isinstance(message_id, int) and isinstance(job_id, int):
                job = await s.get(ProactiveJob, job_id)
                message_id = job.message_id if job is not None else None
            row = await s.get(Message, message_id) if isinstance(message_id, int) else None
        return row.text if row is not None else None


def _consent_text(ctx: TurnView, shown: str | None, answer: str) -> str:
    """What the customer saw and said: the message they answered, their words (or the
    button's payload) and our confirmation."""
    said = ctx.message.text or ctx.message.payload or ""
    parts = [f"shown: «{shown}»"] if shown else []
    parts += [f"customer: «{said}»", f"answered: «{answer}»"]
    return "\n".join(parts)[:MAX_CONSENT_TEXT]
