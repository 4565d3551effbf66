"""Retention in the database: what each data class keeps past its age, counted or cleared.

Every store has one predicate ("due") per data class; a dry run counts the rows it matches and
a real run clears exactly those rows, in batches of `BATCH` ids per transaction, so the counts
of a dry run are what the next run changes (unless traffic adds or holds rows in between).

- ``transcripts``: ``messages`` rows created before the cut-off lose their texts (text, button
  payload, serialised body, session snapshot, error); the row (channel, direction, status,
  times) stays, so counts over the transcript still add up. A pending reply is never touched.
- ``tickets``: closed tickets resolved before the cut-off lose their texts (resolution, slots,
  the unfinished task) and their timeline events their data (notes, transfers' words); the
  ticket row with its times, queue, agent and CSAT score stays, so handoff reports still add up.
- ``events``: raw analytics events behind the rollups' watermark and before the cut-off lose
  their link to the person (``customer_id``) and the typed phrase (``text``); their counting
  columns stay, so rollups, reconciliation and time percentiles stay exact. Proactive events
  (the business's webhook deliveries) and proactive decisions before the cut-off are deleted.

A legal hold on a customer (``customers.legal_hold``) keeps all their rows; one on a ticket
(``tickets.legal_hold``) keeps the ticket and its events, and its customer's transcript and
events (the conversation it came from).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    String,
    Table,
    and_,
    column,
    delete,
    false,
    func,
    or_,
    select,
    table,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.analytics.models import EVENTS
from storage.analytics.rollups import watermark
from storage.models import Base, Message, UtcDateTime
from storage.proactive_models import ProactiveDecision, ProactiveEvent

__all__ = ["BATCH", "CLASSES", "Cutoffs", "RetentionRun", "count_due", "purge_batch", "take_lease"]

BATCH = 1000  # rows cleared per transaction

MESSAGES = cast(Table, Message.__table__)
PROACTIVE_EVENTS = cast(Table, ProactiveEvent.__table__)
DECISIONS = cast(Table, ProactiveDecision.__table__)
# handoff's tables, named here without importing handoff (storage does not depend on it)
CUSTOMERS = table("customers", column("id"), column("legal_hold", Boolean))
TICKETS = table(
    "tickets",
    column("id"),
    column("customer_id"),
    column("status", String),
    column("legal_hold", Boolean),
    column("created_at", UtcDateTime()),
    column("resolved_at", UtcDateTime()),
    column("resolution", String),
    column("slots", JSON),
    column("task", JSON),
)
TICKET_EVENTS = table("ticket_events", column("id"), column("ticket_id"), column("data", JSON))


class RetentionRun(Base):
    """The retention job's lease (one row, ``name`` "retention", made by migration 0012) and
    what its last run did."""

    __tablename__ = "retention_runs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]  # the real clock's (leases are not the bot's time)
    last_run_at: Mapped[dt.datetime | None]  # the bot clock's
    last_counts: Mapped[dict[str, Any] | None]


LEASES = cast(Table, RetentionRun.__table__)


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Per data class, the instant before which its rows are due (None: kept forever)."""

    transcripts: dt.datetime | None = None
    tickets: dt.datetime | None = None
    events: dt.datetime | None = None


def _held_customers() -> Any:
    return select(CUSTOMERS.c.id).where(CUSTOMERS.c.legal_hold == true())


def _customers_of_held_tickets() -> Any:
    return select(TICKETS.c.customer_id).where(TICKETS.c.legal_hold == true())


def _not_held(customer_id: Any) -> ColumnElement[bool]:
    return and_(
        customer_id.not_in(_held_customers()), customer_id.not_in(_customers_of_held_tickets())
    )


def _not_empty(json_column: Any) -> ColumnElement[bool]:
    """A JSON column holding something other than null or ``{}``."""
    as_text = sql_cast(json_column, String)
    return and_(json_column.is_not(None), as_text.not_in(["{}", "null"]))


def _transcripts(cut: dt.datetime) -> tuple[Table, ColumnElement[bool], dict[str, Any]]:
    m = MESSAGES.c
    due = and_(
        m.created_at < cut,
        m.status != "pending",
        or_(
            m.text.is_not(None),
            m.payload.is_not(None),
            m.body.is_not(None),
            m.session_snapshot.is_not(None),
            m.error.is_not(None),
        ),
        _not_held(m.customer_id),
    )
    blank = {"text": None, "payload": None, "body": None, "session_snapshot": None, "error": None}
    return MESSAGES, due, blank


def _due_tickets(cut: dt.datetime) -> ColumnElement[bool]:
    t = TICKETS.c
    return and_(
        t.status == "closed",
        func.coalesce(t.resolved_at, t.created_at) < cut,
        t.legal_hold == false(),
        t.customer_id.not_in(_held_customers()),
    )


def _tickets(cut: dt.datetime) -> tuple[Table, ColumnElement[bool], dict[str, Any]]:
    t = TICKETS.c
    texts = or_(t.resolution.is_not(None), _not_empty(t.slots), _not_empty(t.task))
    blank: dict[str, Any] = {"resolution": None, "slots": {}, "task": None}
    return cast(Table, TICKETS), and_(_due_tickets(cut), texts), blank


def _ticket_events(cut: dt.datetime) -> tuple[Table, ColumnElement[bool], dict[str, Any]]:
    e = TICKET_EVENTS.c
    of_due = e.ticket_id.in_(select(TICKETS.c.id).where(_due_tickets(cut)))
    return cast(Table, TICKET_EVENTS), and_(of_due, _not_empty(e.data)), {"data": {}}


def _analytics(cut: dt.datetime, mark: int) -> tuple[Table, ColumnElement[bool], dict[str, Any]]:
    c = EVENTS.c
    held_tickets = select(TICKETS.c.id).where(TICKETS.c.legal_hold == true())
    due = and_(
        c.at < cut,
        c.id <= mark,  # folded into the rollups already
        or_(c.customer_id.is_not(None), c.text.is_not(None)),
        or_(c.customer_id.is_(None), _not_held(c.customer_id)),
        or_(c.ticket_id.is_(None), c.ticket_id.not_in(held_tickets)),
    )
    return EVENTS, due, {"customer_id": None, "text": None}


def _proactive_events(cut: dt.datetime) -> tuple[Table, ColumnElement[bool], None]:
    p = PROACTIVE_EVENTS.c
    return PROACTIVE_EVENTS, and_(p.received_at < cut, _not_held(p.customer_id)), None


def _decisions(cut: dt.datetime) -> tuple[Table, ColumnElement[bool], None]:
    d = DECISIONS.c
    return DECISIONS, and_(d.at < cut, _not_held(d.customer_id)), None


Target = tuple[Table, ColumnElement[bool], dict[str, Any] | None]  # None: delete the rows
#: every store retention touches: (name in the counts, data class, its due rows)
CLASSES: tuple[tuple[str, str, Callable[[dt.datetime, int], Target]], ...] = (
    ("messages", "transcripts", lambda cut, _: _transcripts(cut)),
    ("tickets", "tickets", lambda cut, _: _tickets(cut)),
    ("ticket_events", "tickets", lambda cut, _: _ticket_events(cut)),
    ("analytics_events", "events", _analytics),
    ("proactive_events", "events", lambda cut, _: _proactive_events(cut)),
    ("proactive_decisions", "events", lambda cut, _: _decisions(cut)),
)


def _targets(s: Session, cutoffs: Cutoffs) -> list[tuple[str, Target]]:
    mark = watermark(s)
    found = []
    for name, data_class, build in CLASSES:
        cut: dt.datetime | None = getattr(cutoffs, data_class)
        if cut is not None:
            found.append((name, build(cut, mark)))
    return found


def count_due(s: Session, cutoffs: Cutoffs) -> dict[str, int]:
    """How many rows of each store a run would clear now (the dry run)."""
    return {
        name: int(s.scalar(select(func.count()).select_from(tbl).where(due)) or 0)
        for name, (tbl, due, _) in _targets(s, cutoffs)
    }


def purge_batch(s: Session, cutoffs: Cutoffs, name: str, limit: int = BATCH) -> int:
    """Clear at most ``limit`` due rows of store ``name`` (one transaction); how many."""
    tbl, due, blank = dict(_targets(s, cutoffs))[name]  # blank None: delete
    ids = list(s.scalars(select(tbl.c.id).where(due).order_by(tbl.c.id).limit(limit)))
    if not ids:
        return 0
    where = tbl.c.id.in_(ids)
    s.execute(delete(tbl).where(where) if blank is None else update(tbl).where(where).values(blank))
    return len(ids)


def take_lease(s: Session, holder: str, now: dt.datetime, seconds: float) -> bool:
    """Take the retention job's lease until ``now + seconds`` when it is free (or expired, or
    ours already): one process at a time runs the job, whichever and however many there are."""
    free = or_(
        LEASES.c.lease_until.is_(None), LEASES.c.lease_until <= now, LEASES.c.holder == holder
    )
    res: Any = s.execute(
        update(LEASES)
        .where(LEASES.c.name == "retention", free)
        .values(holder=holder, lease_until=now + dt.timedelta(seconds=seconds))
    )
    return bool(res.rowcount == 1)


def record_run(s: Session, at: dt.datetime, counts: dict[str, int]) -> None:
    """Note what a real run cleared (shown by the CLI and kept for operators)."""
    s.execute(
        update(LEASES)
        .where(LEASES.c.name == "retention")
        .values(last_run_at=at, last_counts=counts)
    )
