"""What the dialogue and its flows see of a turn: `FlowContext`.

A protocol, not the worker's context itself, so that `bots.flows` imports nothing of
`bots.worker`: the worker's `bots.worker.turn.TurnContext` has these fields and is passed as it
is. Everything but `escalation` and `understood` (the dialogue's, set by it) is read-only here;
flows change the session's fields and add to `to_send`, never replace them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bots.flows.tasks import TaskNotes
    from bots.flows.understood import Understood
    from bots.messages import InboundMessage, PendingSend
    from nlu import ParseResult
    from storage.sessions import Session

__all__ = ["FlowContext"]


class FlowContext(Protocol):
    """One customer message in the middle of its turn, as the dialogue sees it."""

    @property
    def message(self) -> InboundMessage: ...

    @property
    def now(self) -> datetime: ...

    @property
    def session(self) -> Session | None:
        """The customer's session (loaded before the dialogue runs)."""
        ...

    @property
    def parse(self) -> ParseResult | None:
        """What the NLU understood of the text; None for a button or a shared contact."""
        ...

    @property
    def customer_id(self) -> int | None: ...

    @property
    def customer_name(self) -> str | None: ...

    @property
    def customer_phone(self) -> str | None: ...

    @property
    def to_send(self) -> list[PendingSend]:
        """Stored messages the turn hands to the outbox (a linking code to another chat)."""
        ...

    @property
    def tasks(self) -> TaskNotes:
        """Where the dialogue notes the tasks it starts and stops (for the analytics)."""
        ...

    # a reason, when the turn asks for a person (`bots.flows.base.Turn.escalate`)
    escalation: str | None
    # what the dialogue made of the message, set when it has answered (`bots.flows.understood`)
    understood: Understood | None
