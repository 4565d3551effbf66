"""What the proactive steps read and write of a turn (`bots.worker.turn.TurnContext` is one),
so bots/proactive imports nothing of the worker's turn."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bots.messages import InboundMessage, OutboundMessage
from storage.sessions import Session
from storage.turns import TurnWrite

if TYPE_CHECKING:
    from nlu import ParseResult

__all__ = ["TurnView"]


class TurnView(Protocol):
    message: InboundMessage
    now: datetime
    customer_id: int | None
    session: Session | None
    parse: ParseResult | None
    replies: list[OutboundMessage]
    escalation: str | None
    gated: bool  # set: the message was answered here, no NLU and no flows this turn
    writes: list[TurnWrite]  # done in the turn's own commit, with its message
