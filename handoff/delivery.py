"""How an agent's reply ended: the outbox of the process that sent it (or gave up on it) tells
the handoff hook, which records a failure on the ticket's timeline and publishes
``message.delivery`` to the consoles (SSE) and the outbound webhook.

A platform's later ``failed`` receipt for a reply it had accepted (Viber) is reported the same
way, by the worker that handles the receipt.

The API answers ``POST /api/tickets/{id}/messages`` with 201 ``pending`` as soon as the reply
is stored; this event is what follows: ``delivery`` is ``sent``, ``failed`` (a permanent
platform error, or retries used up) or ``undeliverable`` (the customer blocked the bot, or
Instagram's 7-day human-agent window has passed), with the platform's ``error``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff.models import Ticket, TicketEvent
from storage.models import Message

if TYPE_CHECKING:
    from handoff.service import HandoffService

__all__ = ["DELIVERY_EVENT", "agent_replies", "report_delivery"]

log = logging.getLogger(__name__)

DELIVERY_EVENT = "message.delivery"
FAILED = frozenset({"failed", "undeliverable"})


async def agent_replies(
    service: HandoffService, channel: str, platform_message_id: str
) -> list[int]:
    """Ids of the agents' replies a platform receipt is about."""
    query = select(Message.id).where(
        Message.channel == channel,
        Message.direction == "out",
        Message.sender_kind == "agent",
        Message.platform_message_id == platform_message_id,
    )
    return list(await service.db.run(lambda s: s.scalars(query).all(), write=False))


async def report_delivery(
    service: HandoffService, message_id: int, status: str, error: str | None
) -> bool:
    """Publish the outcome of an agent's reply; False when the row is not an agent's reply
    of a ticket (nothing to report)."""
    found = await service.db.run(lambda s: _reply_and_ticket(s, message_id), write=False)
    if found is None:
        return False
    row, ticket = found
    if ticket is None:
        log.warning(
            "agent reply %s has no ticket to report its delivery (%s) to", message_id, status
        )
        return False
    data = {
        "message_id": message_id,
        "delivery": status,
        "error": error,
        "channel": row.channel,
        "text": row.text,
    }
    if status in FAILED:
        log.warning("agent reply %s of ticket %s is %s: %s", message_id, ticket.id, status, error)
        async with service.db.transaction() as s:
            s.add(TicketEvent(ticket_id=ticket.id, kind="delivery_failed", data=data))
    await service.emit(DELIVERY_EVENT, ticket, ticket.agent_id, data)
    return True


def _reply_and_ticket(s: Session, message_id: int) -> tuple[Message, Ticket | None] | None:
    """The agent's reply and its ticket (None: the row is not an agent's reply). Reads without
    a transaction around them (`Database.run`): the ticket was there before its reply."""
    row = s.get(Message, message_id)
    if row is None or row.sender_kind != "agent":
        return None
    ticket_id = (row.body or {}).get("ticket_id")
    ticket = s.get(Ticket, ticket_id) if isinstance(ticket_id, int) else None
    if ticket is None:  # a reply stored before replies named their ticket
        ticket = s.scalar(
            select(Ticket)
            .where(Ticket.customer_id == row.customer_id, Ticket.created_at <= row.created_at)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(1)
        )
    return row, ticket
