"""The dialogue: pick the flow for a message, keep the session's flow state, speak the language."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bots.flows.base import Flow, Turn
from bots.flows.smalltalk import SmallTalk
from bots.flows.templates import LANGUAGES, Templates
from bots.flows.understanding import FALLBACK, Understanding, from_parse, from_payload
from bots.messages import OutboundMessage
from bots.pipeline import TurnContext

log = logging.getLogger(__name__)

MIN_LETTERS_TO_SWITCH_LANGUAGE = 3


class Dialogue:
    """Routes one understood message to the active flow, a flow it starts, or small talk."""

    def __init__(
        self,
        templates: Templates,
        flows: Sequence[Flow],
        *,
        business_name: str = "omnirelay",
        default_language: str = "uk",
    ) -> None:
        self.t = templates
        self.flows = {f.name: f for f in flows}
        self.by_intent = {intent: f for f in flows for intent in f.intents}
        self.smalltalk = SmallTalk(business_name)
        self.default_language = default_language

    async def respond(self, ctx: TurnContext) -> list[OutboundMessage]:
        assert ctx.session is not None
        session = ctx.session
        understanding = self._understand(ctx)
        session.language = self._language(ctx, understanding)
        turn = Turn(ctx, session, understanding, ctx.message.text, session.language, self.t)

        if understanding.intent == FALLBACK:
            session.fallback_count += 1
        else:
            session.fallback_count = 0

        active = self.flows.get(session.flow or "")
        continues = active is not None and not self._starts_other_flow(understanding, active)
        if continues and active is not None and await active.step(turn):
            return turn.replies
        flow = self.by_intent.get(understanding.intent) or self._by_entities(understanding)
        if flow is not None:
            await flow.start(turn)
            return turn.replies
        self.smalltalk.respond(turn)
        if active is not None and session.flow == active.name and session.step:
            # A digression answered: remind the customer where we were.
            active.remind(turn)
        return turn.replies

    def apology(self, ctx: TurnContext) -> list[OutboundMessage]:
        language = (ctx.session.language if ctx.session else None) or self.default_language
        return [OutboundMessage(text=self.t("apology", language))]

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
        return flow is not None and flow is not active and understanding.confidence >= 0.6

    def _understand(self, ctx: TurnContext) -> Understanding:
        payload = ctx.message.payload
        if payload:
            understood = from_payload(payload)
            if understood is not None:
                return understood
            log.info("payload %r is not an intent; treating it as text", payload[:64])
        if ctx.parse is not None:
            return from_parse(ctx.parse)
        if ctx.message.contact_phone:
            return Understanding(intent="inform", entities={"phone": [ctx.message.contact_phone]})
        return Understanding(intent=FALLBACK, confidence=0.0)

    def _language(self, ctx: TurnContext, understanding: Understanding) -> str:
        current = ctx.session.language if ctx.session else None
        detected = understanding.language
        text = ctx.message.text or ""
        letters = sum(ch.isalpha() for ch in text)
        if detected in LANGUAGES and letters >= MIN_LETTERS_TO_SWITCH_LANGUAGE:
            return detected
        if current in LANGUAGES:
            return current
        hint = (ctx.message.language_hint or "")[:2].lower()
        return hint if hint in LANGUAGES else self.default_language
