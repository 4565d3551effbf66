"""One turn of one message: its typed context and the named steps it goes through.

The steps, in the order they run, are listed in `bots.worker.steps.TurnSteps.steps`; the scopes
around them (fence, metrics, identity, the customer's lock, failures) in
`bots.worker.consumer.Worker.handle` and `TurnSteps.run`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bots.flows.tasks import TaskNotes
from bots.flows.understood import Understood
from bots.messages import Button, InboundMessage, OutboundMessage, PendingSend
from storage.sessions import Session
from storage.turns import TurnWrite

if TYPE_CHECKING:
    from handoff.service import Notice
    from nlu import ParseResult

__all__ = ["Step", "StepFn", "TurnContext", "always", "notice_replies"]


@dataclass(slots=True)
class TurnContext:
    """Everything one turn knows and decides. The dialogue sees it as a
    `bots.flows.context.FlowContext`, the identity step as a `bots.identity.resolver.TurnIdentity`
    and the handoff hook as a `handoff.hook.TurnView`: each takes only the fields it uses."""

    message: InboundMessage
    attempt: int
    now: datetime
    customer_id: int | None = None
    customer_name: str | None = None
    customer_phone: str | None = None
    last_inbound_at: datetime | None = None
    session: Session | None = None
    parse: ParseResult | None = None
    # the message answers a question for the customer's name or phone, as the session stood
    # before the dialogue ran (`bots.worker.review.asks_personal_data`): if it is not understood,
    # its text is kept neither for review nor among the fallback phrases
    personal_answer: bool = False
    replies: list[OutboundMessage] = field(default_factory=list)
    to_send: list[PendingSend] = field(default_factory=list)
    inbound_row_id: int | None = None
    duplicate: bool = False  # the message was processed before: replies were re-queued
    escalation: str | None = None  # a reason, when the turn asks for a person
    bot_silent: bool = False  # a human agent owns the conversation
    gated: bool = False  # the handoff gate (or a consent word) took it: no NLU, no flows
    tasks: TaskNotes = field(default_factory=TaskNotes)  # flows started / stopped (analytics)
    # what the dialogue made of the message (`bots.flows.understood`): the intent it acted on or
    # not understood, and who decided; None when the bot did not read it (a gate took it)
    understood: Understood | None = None
    # the proactive message this one answers, as the session held it before the turn
    answers: dict[str, Any] | None = None
    # more writes for the turn's commit (`storage.turns.TurnWrite`: an unfinished flow's nudge)
    writes: list[TurnWrite] = field(default_factory=list)


StepFn = Callable[[TurnContext], Awaitable[None]]


def always(ctx: TurnContext) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Step:
    """One named step of a turn; it runs when `when(ctx)` holds at its turn in the list."""

    name: str
    run: StepFn
    when: Callable[[TurnContext], bool] = always


def notice_replies(notices: Iterable[Notice]) -> list[OutboundMessage]:
    """Replies for what the handoff package wants to tell the customer."""
    return [
        OutboundMessage(
            text=n.text,
            buttons=tuple(Button(t, p) for t, p in n.buttons),
            request_phone=n.request_phone,
            phone_label=n.phone_label,
        )
        for n in notices
    ]
