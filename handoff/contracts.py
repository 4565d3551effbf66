"""What the handoff service exchanges with the rest of the application: escalations come in
(and become tickets), notices and stored replies go out.

Kept apart from `handoff.service` so the helpers of the service (`handoff.conversations`)
share these types without importing the service itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from handoff.models import Ticket
from storage.sessions import Session

__all__ = ["Escalation", "Notice", "Outlet", "Texts", "mark", "new_ticket", "resume_intent"]


@dataclass(frozen=True, slots=True)
class Notice:
    """A reply the handoff package wants the customer to get: text and (title, payload) buttons;
    ``request_phone``: with the channel's share-phone button, titled ``phone_label``."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()
    request_phone: bool = False
    phone_label: str | None = None


class Texts(Protocol):
    """Reply templates (`bots.flows.templates.Templates`)."""

    def __call__(self, key: str, language: str | None, **values: Any) -> str: ...

    def raw(self, key: str, language: str | None) -> Any: ...


class Outlet(Protocol):
    """Hands a stored pending reply to this process's outbox."""

    @property
    def live(self) -> bool:
        """Whether this process sends replies itself (else the sweeper of a worker does)."""
        ...

    def dispatch(
        self,
        row_id: int,
        channel: str,
        recipient_id: str,
        body: dict[str, Any],
        last_inbound_at: dt.datetime | None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Escalation:
    reason: str
    intent: str | None = None
    flow: str | None = None
    slots: dict[str, Any] | None = None
    language: str = "uk"
    channel: str | None = None
    priority: int = 1


def new_ticket(customer_id: int, esc: Escalation, queue_id: int, now: dt.datetime) -> Ticket:
    task = None
    if esc.flow:
        task = {"flow": esc.flow, "resume": resume_intent(esc.flow, esc.intent)}
    return Ticket(
        customer_id=customer_id,
        queue_id=queue_id,
        status="queued",
        reason=esc.reason[:100],
        intent=esc.intent,
        slots=esc.slots or {},
        task=task,
        language=esc.language,
        channel=esc.channel,
        priority=esc.priority,
        created_at=now,
    )


def resume_intent(flow: str, intent: str | None) -> str | None:
    starts = {
        "order_status": "check_order_status",
        "booking": "book_appointment",
        "reschedule": "reschedule_appointment",
        "cancel": "cancel_appointment",
    }
    return starts.get(flow) or (intent if intent in starts.values() else None)


def mark(ticket_id: int, handoff: str) -> Callable[[Session], None]:
    def change(session: Session) -> None:
        session.handoff = handoff
        session.ticket_id = ticket_id

    return change
