"""What a flow sees of a turn, and the protocol every flow follows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import orjson

from bots.flows.bookings_question import CHECK_BOOKINGS
from bots.flows.bot_question import ASKS_IF_BOT
from bots.flows.templates import Templates
from bots.flows.understanding import Understanding
from bots.messages import Button, OutboundMessage
from storage.sessions import EscalationRequest

if TYPE_CHECKING:
    from bots.flows.context import FlowContext
    from storage.sessions import Session


# Menu entries in the templates are short names or intents; these are the intents they trigger.
MENU_INTENTS = {"order_status": "check_order_status", "human": "request_human"}

MISSES_BEFORE_HANDOFF = 2  # misunderstood messages in a row before a person is asked for
ASK = "_ask"  # slot holding the pending question, see `Turn.ask`

Localised: TypeAlias = str | dict[str, str]  # a text, or one per language


def payload(intent: str, **entities: Any) -> str:
    """A Rasa-style button payload: `/intent` or `/intent{"slot":"value"}` (compact JSON, so
    it stays within Telegram's 64-byte callback data)."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}{orjson.dumps(entities).decode()}"


# Intents that, without any slot in the message, are a digression from a flow in progress:
# answered by the dialogue (or another flow), after which the flow asks its question again.
DIGRESSIONS = frozenset(
    {
        "greet",
        "goodbye",
        "thank",
        "request_human",
        "ask_opening_hours",
        "ask_address",
        "ask_prices",
        "check_order_status",
        "link_account",
        "forget_me",
        "stop",
        CHECK_BOOKINGS,
        ASKS_IF_BOT,
    }
)


@dataclass(slots=True)
class Turn:
    """One customer message as a flow sees it: no channel, no transport."""

    ctx: FlowContext
    session: Session
    understanding: Understanding
    text: str | None
    language: str
    t: Templates
    replies: list[OutboundMessage] = field(default_factory=list)
    missed: bool = False  # this message was not understood (counts toward a handoff)

    def say(
        self,
        key: str,
        menu: str | None = None,
        *,
        buttons: tuple[Button, ...] = (),
        request_phone: bool = False,
        **values: object,
    ) -> None:
        """Add a templated reply; `menu` names a template mapping of button titles whose
        keys are intents, tapped as Rasa-style payloads (`/intent`)."""
        text = self.t(key, self.language, **values)
        if menu is not None:
            buttons = (*buttons, *self.menu(menu))
        # the share-phone button's title in the customer's language (channels render it)
        label = self.t("share_phone_button", self.language) if request_phone else None
        self.replies.append(
            OutboundMessage(
                text=text, buttons=buttons, request_phone=request_phone, phone_label=label
            )
        )

    def menu(self, key: str) -> tuple[Button, ...]:
        titles = self.t.raw(key, self.language)
        return tuple(
            Button(title=str(title), payload=f"/{MENU_INTENTS.get(name, name)}")
            for name, title in titles.items()
        )

    def say_text(self, text: str, buttons: tuple[Button, ...] = ()) -> None:
        self.replies.append(OutboundMessage(text=text, buttons=buttons))

    def tr(self, key: str, **values: object) -> str:
        """A template in the turn's language (for composing replies)."""
        return self.t(key, self.language, **values)

    def miss(self) -> bool:
        """Count a misunderstood message; True when it is one too many (escalate now)."""
        self.missed = True
        self.session.fallback_count += 1
        return self.session.fallback_count >= MISSES_BEFORE_HANDOFF

    def escalate(self, reason: str) -> None:
        """Ask for a person. The handoff package opens the ticket from `session.escalation`."""
        self.ctx.escalation = reason
        self.session.handoff = "pending"
        self.session.fallback_count = 0
        self.session.escalation = EscalationRequest(
            reason=reason,
            intent=self.understanding.intent,
            at=self.ctx.now.isoformat(),
            flow=self.session.flow,
            step=self.session.step,
            slots=dict(self.session.slots),
        )

    def ask(
        self,
        key: str,
        *,
        buttons: Sequence[tuple[Localised, str]] = (),
        request_phone: bool = False,
        **values: Localised,
    ) -> None:
        """Ask the flow's pending question and remember it (in the session) so that `ask_again`
        repeats it after a digression, in whatever language the customer speaks by then.
        Values and button titles are strings or ``{"uk": ..., "en": ...}``."""
        self.session.slots[ASK] = {
            "key": key,
            "values": values,
            "buttons": [[title, pay] for title, pay in buttons],
            "phone": request_phone,
        }
        self.ask_again()

    def ask_again(self) -> bool:
        """Repeat the remembered question; False when there is none."""
        asked = self.session.slots.get(ASK)
        if not isinstance(asked, dict):
            return False
        values = {k: self.local(v) for k, v in asked["values"].items()}
        buttons = tuple(Button(self.local(t), p) for t, p in asked["buttons"])
        self.say(asked["key"], buttons=buttons, request_phone=asked["phone"], **values)
        return True

    def local(self, value: Localised) -> str:
        if isinstance(value, dict):
            return str(value.get(self.language) or value.get("en") or next(iter(value.values())))
        return str(value)

    def finish(self) -> None:
        self.session.flow = None
        self.session.step = None
        self.session.slots = {}

    def goto(self, flow: str, step: str) -> None:
        self.session.flow, self.session.step = flow, step


class Flow(Protocol):
    """A small state machine over `session.flow/step/slots` (JSON values only).

    `start` begins it (it may finish at once, e.g. an FAQ answer or an order found by number:
    the dialogue then returns to any flow that was interrupted); `step` continues it and
    returns False when the message is not for it (a digression: the dialogue answers it and
    calls `remind`).

    Optional: ``claims(turn) -> bool``: while active, take a message whose intent would start
    another flow (a name that the NLU reads as something else); ``stop_key``: the template said
    when the customer stops it (default "stopped")."""

    name: str
    intents: frozenset[str]  # intents that start this flow
    entity_triggers: frozenset[str]  # entities that start it when given on their own

    async def start(self, turn: Turn) -> None: ...

    async def step(self, turn: Turn) -> bool:
        """Continue the active flow with this message; False: not for me (a digression)."""
        ...

    def remind(self, turn: Turn) -> None:
        """Repeat the pending question after a digression was answered."""
        ...
