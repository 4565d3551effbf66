"""First-contact resolution: which resolved tickets the customer came back on (``fcr.came_back``).

A contact is an event that brings a customer back to a topic: ``task.started`` (a task whose
flow maps to the topic, in a conversation that began after the resolution) and
``ticket.created`` (another ticket on the topic). Tickets of the customer on that topic resolved
in the N days before it did not resolve it at first contact.

The contacts are read back from the events table instead of being looked up in the turn that
writes them: the rollup round (`storage.analytics.rollups`) derives the ``fcr.came_back`` of the
contacts it folds, in the transaction that moves the watermark past them, so a turn pays for
no lookup (it was the dearest part of writing a turn's events). The summary stays live and
exact: for contacts after the watermark it derives the returns the next round will write
(`pending`), leaving out tickets that have theirs already; the round writes them in the same
transaction that folds their contacts, so each return is counted once, in one place or the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.analytics.events import Event
from storage.analytics.models import EVENTS
from storage.models import Customer

__all__ = ["CONTACT_KINDS", "CameBack", "came_back", "contacts", "merged_into", "pending"]

CONTACT_KINDS = ("task.started", "ticket.created")


@dataclass(frozen=True, slots=True)
class CameBack:
    """A customer's contact on ``topic`` at ``at``: tickets of theirs on that topic resolved in
    [``since``, ``before``) did not resolve it at first contact (``fcr.came_back``)."""

    customer_id: int
    topic: str
    at: dt.datetime
    since: dt.datetime
    before: dt.datetime


def contacts(s: Session, after: int, upto: int | None, days: int) -> list[CameBack]:
    """The contacts among the events with ids in (``after``, ``upto``] (no upper bound: None).
    A task's window ends where its conversation began (the ``conversation.started`` with the
    conversation's key; the task's own time without one), a ticket's at its creation."""
    c = EVENTS.c
    where = [c.id > after]
    if upto is not None:
        where.append(c.id <= upto)
    # the ids alone narrow the read (a few rows after the watermark, or the round's batch), the
    # kind and the customer are picked here: given those, SQLite's planner read every task and
    # ticket of all time through the (kind, key) index
    rows = s.execute(select(c.kind, c.customer_id, c.team, c.at, c.conversation_key).where(*where))
    found = [r for r in rows if r.kind in CONTACT_KINDS and r.customer_id is not None]
    keys = sorted({r.conversation_key for r in found if r.kind == "task.started"} - {None})
    began: dict[str, dt.datetime] = {}
    if keys:
        began = dict(
            s.execute(
                select(c.key, c.at).where(c.kind == "conversation.started", c.key.in_(keys))
            ).all()
        )
    window = dt.timedelta(days=days)
    return [
        CameBack(
            customer_id=r.customer_id,
            topic=r.team or "general",
            at=r.at,
            since=r.at - window,
            before=began.get(r.conversation_key, r.at) if r.kind == "task.started" else r.at,
        )
        for r in found
    ]


def merged_into(s: Session, customer_ids: Sequence[int]) -> dict[int, int]:
    """Each of ``customer_ids`` and every profile merged into it (directly or through a chain
    of merges, `storage.repositories.identity_merges`), mapped to it: a person's events may
    still carry a merged-away id, so first-contact resolution reads them as one. An undone
    merge clears ``merged_into_id``, so its profile is a person of its own again."""
    person = {i: i for i in customer_ids}
    frontier = set(customer_ids)
    while frontier:
        rows = s.execute(
            select(Customer.id, Customer.merged_into_id).where(
                Customer.merged_into_id.in_(sorted(frontier))
            )
        ).all()
        frontier = {r.id for r in rows if r.id not in person}
        for r in rows:
            person.setdefault(r.id, person[r.merged_into_id])
    return person


def came_back(s: Session, *found: CameBack) -> list[Event]:
    """``fcr.came_back`` events for the customers' tickets on each contact's topic resolved in
    the contact's window (one query for all of them, the profiles merged into theirs
    included); each is counted in the hour (and team, agent) of its resolution."""
    if not found:
        return []
    c = EVENTS.c
    person = merged_into(s, sorted({contact.customer_id for contact in found}))
    rows = s.execute(
        select(
            c.customer_id, c.ticket_id, c.at, c.channel, c.language, c.intent, c.team, c.agent_id
        ).where(
            c.kind == "ticket.resolved",
            c.customer_id.in_(sorted(person)),
            c.at >= min(contact.since for contact in found),
            c.at < max(contact.before for contact in found),
        )
    ).all()
    events: dict[int, Event] = {}
    for contact in found:
        for r in rows:
            if (person[r.customer_id], r.team) != (contact.customer_id, contact.topic):
                continue
            if not contact.since <= r.at < contact.before or r.ticket_id in events:
                continue
            events[r.ticket_id] = Event(
                kind="fcr.came_back",
                key=str(r.ticket_id),
                at=r.at,
                customer_id=contact.customer_id,
                ticket_id=r.ticket_id,
                channel=r.channel,
                language=r.language,
                intent=r.intent,
                team=r.team,
                agent_id=r.agent_id,
                data={"came_back_at": contact.at.isoformat()},
            )
    return list(events.values())


def pending(s: Session, after: int, days: int) -> list[Event]:
    """The returns the next rollup round will write for the contacts after the watermark
    ``after``: those of tickets with no ``fcr.came_back`` yet."""
    found = came_back(s, *contacts(s, after, None, days))
    if not found:
        return []
    c = EVENTS.c
    keys = [e.key for e in found]
    have = set(s.scalars(select(c.key).where(c.kind == "fcr.came_back", c.key.in_(keys))).all())
    return [e for e in found if e.key not in have]
