"""What a flow sees of a turn, and the protocol every flow follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bots.flows.templates import Templates
from bots.flows.understanding import Understanding
from bots.messages import Button, OutboundMessage

if TYPE_CHECKING:
    from bots.pipeline import TurnContext
    from storage.sessions import Session


# Menu entries in the templates are short names; these are the intents they trigger.
MENU_INTENTS = {"order_status": "check_order_status", "human": "request_human"}


@dataclass(slots=True)
class Turn:
    """One customer message as a flow sees it: no channel, no transport."""

    ctx: TurnContext
    session: Session
    understanding: Understanding
    text: str | None
    language: str
    t: Templates
    replies: list[OutboundMessage] = field(default_factory=list)

    def say(self, key: str, menu: str | None = None, **values: object) -> None:
        """Add a templated reply; `menu` names a template mapping of button titles whose
        keys are intents, tapped as Rasa-style payloads (`/intent`)."""
        text = self.t(key, self.language, **values)
        buttons: tuple[Button, ...] = ()
        if menu is not None:
            titles = self.t.raw(menu, self.language)
            buttons = tuple(
                Button(title=str(title), payload=f"/{MENU_INTENTS.get(name, name)}")
                for name, title in titles.items()
            )
        self.replies.append(OutboundMessage(text=text, buttons=buttons))

    def say_text(self, text: str, buttons: tuple[Button, ...] = ()) -> None:
        self.replies.append(OutboundMessage(text=text, buttons=buttons))

    def escalate(self, reason: str) -> None:
        """Ask for a person. The handoff package consumes `session.data["escalation"]`."""
        self.ctx.escalation = reason
        self.session.handoff = "pending"
        self.session.data["escalation"] = {
            "reason": reason,
            "intent": self.understanding.intent,
            "at": self.ctx.now.isoformat(),
            "flow": self.session.flow,
            "slots": dict(self.session.slots),
        }

    def finish(self) -> None:
        self.session.flow = None
        self.session.step = None
        self.session.slots = {}


class Flow(Protocol):
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
