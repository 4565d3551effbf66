"""The dialogue: pick the flow for a message, keep the session's flow state, speak the language.

Beyond routing, the dialogue owns what every flow shares: "stop" / "скасувати" ends the active
flow; a question answered by another flow in one turn (opening hours mid-booking) returns to
the same step; a flow interrupted by another that needs several turns is suspended and resumed
after it; an unfinished flow is offered again when the customer greets or comes back after a
pause; a failing backend is apologised for and escalated.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from bots.flows.base import Flow, Turn
from bots.flows.bookings_question import CHECK_BOOKINGS, asks_for_bookings
from bots.flows.bot_question import ASKS_IF_BOT, asks_if_bot
from bots.flows.context import FlowContext
from bots.flows.language import switches_language
from bots.flows.linking import asks_to_continue_in
from bots.flows.manage_booking import kept_after_cancel
from bots.flows.order_status import asks_about_last_order
from bots.flows.phone_request import close_phone_request
from bots.flows.smalltalk import SmallTalk, is_goodbye, praise_is_yes
from bots.flows.templates import LANGUAGES, Templates
from bots.flows.understanding import (
    FALLBACK,
    LAST_BUTTONS,
    Understanding,
    from_command,
    from_parse,
    from_payload,
    from_title,
)
from bots.flows.understood import NOT_UNDERSTOOD_INTENTS, effective
from bots.flows.unsure import (
    YES_NO_STEPS,
    unsure_at_a_confirmation,
    unsure_at_a_value,
    unsure_of_harm,
    unsure_takeover,
)
from bots.log_masking import said
from bots.messages import Button, OutboundMessage
from nlu.normalise import normalise_text
from storage.errors import StorageError
from storage.sessions import RESUME_OFFERED

log = logging.getLogger(__name__)

YES_NO_MAX_WORDS = 3
YES_NO_MIN_CONFIDENCE = 0.25
YES_NO_MIN_MARGIN = 0.1
RESUME_AFTER = timedelta(minutes=30)  # a pause after which an unfinished flow is offered again
LAST_AT, SUSPENDED = "last_at", "suspended"
MAX_REMEMBERED_BUTTONS = 12  # of the last reply, whose titles typed out are taps


class Dialogue:
    """Routes one understood message to the active flow, a flow it starts, or small talk."""

    def __init__(
        self,
        templates: Templates,
        flows: Sequence[Flow],
        *,
        business_name: dict[str, str] | str = "omnirelay",
        default_language: str = "uk",
        closers: Sequence[Callable[[], Awaitable[Any]]] = (),
    ) -> None:
        self.t = templates
        self.flows = {f.name: f for f in flows}
        self.by_intent = {intent: f for f in flows for intent in f.intents}
        self.smalltalk = SmallTalk(business_name)
        self.default_language = default_language
        self._closers = list(closers)

    async def aclose(self) -> None:
        """Close what the flows' backends hold open (HTTP sessions)."""
        for close in self._closers:
            await close()

    async def respond(self, ctx: FlowContext) -> list[OutboundMessage]:
        assert ctx.session is not None
        session = ctx.session
        understanding = self._understand(ctx)
        session.language = self._language(ctx, understanding)
        turn = Turn(ctx, session, understanding, self._text(ctx), session.language, self.t)
        paused = self._paused(ctx)
        session.data[LAST_AT] = ctx.now.isoformat()
        try:
            await self._route(turn, paused)
        except StorageError as e:
            # The database or the business system failed (booking errors such as a taken slot
            # are handled inside the flows): apologise and ask for a person, keeping the
            # flow's state so the agent (or a later retry) sees where the customer was.
            log.warning("backend error in flow %s: %s: %s", session.flow, type(e).__name__, e)
            turn.replies.clear()
            turn.say("backend_error")
            turn.escalate("backend_error")
        if not turn.missed:
            session.fallback_count = 0
        # what the customer got, for the analytics and the review list (`bots.flows.understood`)
        goodbye = is_goodbye(understanding, turn.text)
        ctx.understood = effective(understanding, missed=turn.missed, goodbye=goodbye)
        turn.replies[:] = close_phone_request(session, turn.replies)  # a typed phone: T3
        buttons = [[b.title, b.payload] for r in turn.replies for b in r.buttons]
        session.data[LAST_BUTTONS] = buttons[:MAX_REMEMBERED_BUTTONS]  # typed out next: tapped
        return turn.replies

    def apology(self, ctx: FlowContext) -> list[OutboundMessage]:
        language = (ctx.session.language if ctx.session else None) or self.default_language
        return [OutboundMessage(text=self.t("apology", language))]

    # ---- routing ---------------------------------------------------------------------------

    async def _route(self, turn: Turn, paused: bool) -> None:
        u, session = turn.understanding, turn.session
        active = self.flows.get(session.flow or "")
        if session.flow and active is None:
            log.info(
                "session of %s names unknown flow %r; dropped", session.customer_id, session.flow
            )
            turn.ctx.tasks.stop()
            turn.finish()
        offered = session.data.pop(RESUME_OFFERED, False)
        if is_goodbye(u, turn.text):
            # The customer is leaving: say goodbye and ask nothing. An unfinished task stays as
            # it is (offered again when they come back), but its question is not asked now.
            turn.say("goodbye")
            return
        if active is None and kept_after_cancel(turn):
            return
        if active is not None and (u.intent == "resume" or (offered and u.intent == "affirm")):
            active.remind(turn)
            return
        if active is not None and (self._is_stop(u, active) or (offered and u.intent == "deny")):
            self._stop(turn, active)
            return
        if u.intent == "stop" and session.data.get(SUSPENDED):
            self._stop(turn)
            return
        if active is not None and u.intent == "greet":
            self.smalltalk.respond(turn)
            self._offer_resume(turn, active)
            return
        other = active is not None and self._starts_other_flow(u, active)
        claimed = other and active is not None and self._claimed(turn, active)
        if active is not None and (not other or claimed) and await active.step(turn):
            if not turn.missed and (claimed or u.intent in NOT_UNDERSTOOD_INTENTS):
                u.by = "value"  # the flow read it as the value it asked for
            self._after(turn)
            return
        if active is not None and session.flow is None and await self._hand_back(turn):
            return
        flow = self.by_intent.get(u.intent) or self._by_entities(u)
        if flow is not None:
            await self._start(turn, flow, active, paused)
            self._after(turn)
            return
        self.smalltalk.respond(turn)
        if active is not None and session.flow == active.name and not turn.ctx.escalation:
            self._back(turn, active, paused)
        self._after(turn)

    def _back(self, turn: Turn, active: Flow, paused: bool) -> None:
        """A digression answered: back to where we were (asking first after a long pause)."""
        if paused:
            self._offer_resume(turn, active)
        else:
            active.remind(turn)

    @staticmethod
    def _claimed(turn: Turn, active: Flow) -> bool:
        """Whether the active flow takes a message whose intent would start another flow
        ("мене звати Тарас" reads as account linking, but at the name step it is a name)."""
        claims = getattr(active, "claims", None)
        return bool(claims is not None and claims(turn))

    async def _start(self, turn: Turn, flow: Flow, active: Flow | None, paused: bool) -> None:
        session = turn.session
        turn.ctx.tasks.start(flow.name)
        if active is None or flow is active or session.flow != active.name:
            await flow.start(turn)
            return
        saved = {"flow": session.flow, "step": session.step, "slots": dict(session.slots)}
        said = len(turn.replies)
        await flow.start(turn)
        if session.flow is None and not turn.ctx.escalation:
            # Answered in one turn (opening hours, an order found by number): same step again.
            self._restore(turn, saved)
            self._back(turn, active, paused)
        elif session.flow is not None and session.flow != saved["flow"]:
            session.data[SUSPENDED] = saved
            # said first, so that the task set aside is not taken for dropped (trial 3, T11)
            aside = turn.tr("flow_set_aside", flow=self._flow_name(turn, active.name))
            turn.replies.insert(said, OutboundMessage(text=aside))

    def _after(self, turn: Turn) -> None:
        """A flow that ended while another was suspended: go back to the suspended one."""
        session = turn.session
        saved = session.data.get(SUSPENDED)
        if session.flow is not None or not saved or turn.ctx.escalation:
            return
        flow = self.flows.get(saved["flow"])
        del session.data[SUSPENDED]
        if flow is None:
            return
        self._restore(turn, saved)
        turn.say("back_to_flow", flow=self._flow_name(turn, flow.name))
        flow.remind(turn)

    @staticmethod
    def _restore(turn: Turn, saved: dict[str, Any]) -> None:
        turn.session.flow, turn.session.step = saved["flow"], saved["step"]
        turn.session.slots = dict(saved["slots"])

    async def _hand_back(self, turn: Turn) -> bool:
        """A flow that left, letting go of the message (`step` False), and the task it had set
        aside takes that message: account linking asked for a phone and was given the time the
        rescheduling had asked for ("13:30", trial 4, G1). False with no task set aside."""
        saved = turn.session.data.get(SUSPENDED)
        flow = self.flows.get(saved["flow"]) if saved else None
        if flow is None or saved is None:
            return False
        del turn.session.data[SUSPENDED]
        self._restore(turn, saved)
        if not await flow.step(turn):
            flow.remind(turn)
        self._after(turn)
        return True

    def _stop(self, turn: Turn, active: Flow | None = None) -> None:
        turn.ctx.tasks.stop()
        turn.finish()
        turn.session.data.pop(SUSPENDED, None)
        # a flow may say what stopping it leaves as it was ("your visit stays as it is")
        turn.say(getattr(active, "stop_key", "stopped"), menu="greet_buttons")

    def _offer_resume(self, turn: Turn, active: Flow) -> None:
        turn.session.data[RESUME_OFFERED] = True
        titles = turn.t.raw("resume_buttons", turn.language)
        turn.say(
            "resume_offer",
            buttons=(
                Button(str(titles["resume"]), "/resume"),
                Button(str(titles["stop"]), "/stop"),
            ),
            flow=self._flow_name(turn, active.name),
        )

    @staticmethod
    def _flow_name(turn: Turn, name: str) -> str:
        names = turn.t.raw("flow_names", turn.language)
        return str(names.get(name) or names["other"])

    def _paused(self, ctx: FlowContext) -> bool:
        assert ctx.session is not None
        last = ctx.session.data.get(LAST_AT)
        if not isinstance(last, str):
            return False
        try:
            return ctx.now - datetime.fromisoformat(last) > RESUME_AFTER
        except (ValueError, TypeError):
            return False

    @staticmethod
    def _is_stop(u: Understanding, active: Flow) -> bool:
        # "скасувати" on its own is read as cancel_appointment; inside another flow it means
        # "cancel this", not "cancel my visit".
        return u.intent == "stop" or (
            u.intent == "cancel_appointment"
            and "cancel_appointment" not in active.intents
            and not (u.from_button and u.first("booking"))  # a reminder's "cancel this visit"
        )

    def _by_entities(self, understanding: Understanding) -> Flow | None:
        """A bare slot value ("A1003") with no flow running starts the flow that needs it."""
        if understanding.intent not in ("inform", FALLBACK):
            return None
        for flow in self.flows.values():
            if flow.entity_triggers & understanding.entities.keys():
                return flow
        return None

    def _starts_other_flow(self, understanding: Understanding, active: Flow) -> bool:
        flow = self.by_intent.get(understanding.intent)
        if flow is None or flow is active:
            return False
        return understanding.from_button or understanding.confidence >= 0.6

    # ---- understanding ---------------------------------------------------------------------

    def _understand(self, ctx: FlowContext) -> Understanding:
        payload = ctx.message.payload
        if payload:
            understood = from_payload(payload)
            if understood is not None:
                return understood
            log.info("payload %r is not an intent; treating it as text", said(payload[:64]))
        last = ctx.session.data.get(LAST_BUTTONS) if ctx.session is not None else None
        typed = from_title(ctx.message.text, last)
        if typed is not None:
            return typed
        if ctx.parse is not None:
            command = from_command(ctx.parse.text, ctx.parse.language)
            understood = unsure_at_a_value(ctx, self._yes_or_no(ctx, from_parse(ctx.parse)))
            understood = unsure_takeover(ctx, understood, self._own_intents(ctx))
            if asks_for_bookings(ctx.parse.text, understood):
                understood.intent = CHECK_BOOKINGS  # trial F23: read as an order or a booking
                understood.by = "rule"
            elif asks_if_bot(ctx.parse.text):  # trial G10: read as a request for a person
                understood.intent, understood.by = ASKS_IF_BOT, "rule"
            elif asks_about_last_order(ctx.parse.text, ctx.session):  # trial 4, G4
                understood.intent, understood.by = "check_order_status", "rule"
            elif asks_to_continue_in(ctx.parse.text):  # trial 4, G11: sure, as a tap would be
                understood.intent, understood.by = "link_account", "rule"
                understood.confidence = 1.0
            step = ctx.session.step if ctx.session is not None and ctx.session.flow else None
            return command or unsure_of_harm(unsure_at_a_confirmation(understood, step))
        if ctx.message.contact_phone:
            phone = {"phone": [ctx.message.contact_phone]}
            return Understanding(intent="inform", entities=phone, by="button")
        return Understanding(intent=FALLBACK, confidence=0.0, by="rule")  # nothing to read

    def _own_intents(self, ctx: FlowContext) -> frozenset[str]:
        """The intents of the flow the session is in (none when idle)."""
        active = self.flows.get(ctx.session.flow or "") if ctx.session is not None else None
        return active.intents if active is not None else frozenset()

    @staticmethod
    def _text(ctx: FlowContext) -> str | None:
        """The message's text as the NLU read it (`nlu.normalise`: one apostrophe, plain
        spaces), so the flows' own readers (names, phones, services, references) see what the
        extractors saw; normalised here when the NLU did not read it (a button's message)."""
        if ctx.parse is not None:
            return ctx.parse.text
        text = ctx.message.text
        return normalise_text(text) if text else text

    def _yes_or_no(self, ctx: FlowContext, understanding: Understanding) -> Understanding:
        """At a yes/no question, a short answer the model ranks as affirm or deny, clearly ahead
        of the next intent, is taken as that even under the fallback threshold ("добре",
        "alright", "okie"): the question narrows what the customer can mean. Thanks with praise
        are a yes there (`praise_is_yes`)."""
        parse = ctx.parse
        asked = ctx.session is not None and ctx.session.step in YES_NO_STEPS
        if asked and praise_is_yes(understanding, ctx.message.text):
            understanding.intent, understanding.by = "affirm", "rule"  # "perfect thx", "чудово"
            return understanding
        if (
            understanding.intent != FALLBACK
            or ctx.session is None
            or ctx.session.step not in YES_NO_STEPS
            or parse is None
            or len(parse.ranking) < 2
            or len((ctx.message.text or "").split()) > YES_NO_MAX_WORDS
        ):
            return understanding
        top, second = parse.ranking[0], parse.ranking[1]
        if top.name in ("affirm", "deny") and (
            top.confidence >= YES_NO_MIN_CONFIDENCE
            and top.confidence - second.confidence >= YES_NO_MIN_MARGIN
        ):
            text, conf = said(parse.text), top.confidence  # the text: DEBUG only (log_masking)
            log.info("yes/no question: %r read as %s (%.2f)", text, top.name, conf)
            understanding.intent, understanding.by = top.name, "rule"
        return understanding

    def _language(self, ctx: FlowContext, understanding: Understanding) -> str:
        current = ctx.session.language if ctx.session else None
        if switches_language(ctx, understanding, self._text(ctx), self.t):
            return str(understanding.language)
        if current in LANGUAGES:
            return current
        hint = (ctx.message.language_hint or "")[:2].lower()
        return hint if hint in LANGUAGES else self.default_language
