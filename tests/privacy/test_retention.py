"""Retention on SQLite and PostgreSQL: on the bot's clock, data past its age is cleared and newer
data kept, a legal hold on a customer or a ticket keeps theirs, a dry run changes nothing and
counts what the run then clears, rollups and the metrics summary stay as they were, and each
run leaves an audit entry."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from bots.flows.clock import Clock
from bots.privacy.retention import RetentionPolicy, retention_run
from handoff.models import HandoffQueue, Ticket, TicketEvent
from storage.analytics.events import Event, record_async
from storage.analytics.rollups import reconcile, roll_up
from storage.analytics.summary import Query, summary
from storage.audit import AuditEntry
from storage.db import Database
from storage.models import Customer, Message
from storage.proactive_models import ProactiveEvent

T0 = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)
OLD, NEW = T0 - dt.timedelta(days=40), T0 - dt.timedelta(days=5)
POLICY = dict(transcripts_days=30, tickets_days=30, review_days=30, events_days=30)
RANGE = Query(first=dt.date(2026, 1, 1), last=dt.date(2026, 3, 10))


async def _customer(s: Any, name: str, hold: bool = False) -> int:
    row = Customer(display_name=name, phone="+380501234567", legal_hold=hold)
    s.add(row)
    await s.flush()
    return row.id


def _message(customer_id: int, at: dt.datetime, words: str) -> Message:
    return Message(
        customer_id=customer_id,
        channel="telegram",
        external_user_id=f"chat{customer_id}",
        direction="in",
        sender_kind="customer",
        text=words,
        status="received",
        created_at=at,
    )


def _ticket(queue: int, customer_id: int, at: dt.datetime, *, hold: bool = False) -> Ticket:
    return Ticket(
        customer_id=customer_id,
        queue_id=queue,
        status="closed",
        reason="asked",
        language="uk",
        slots={"phone": "+380501234567"},
        resolution="called back on +380501234567",
        legal_hold=hold,
        created_at=at,
        resolved_at=at,
    )


def _event(n: int, customer_id: int, at: dt.datetime, ticket_id: int | None = None) -> Event:
    return Event(
        kind="fallback",
        key=f"telegram:{n}",
        at=at,
        customer_id=customer_id,
        ticket_id=ticket_id,
        channel="telegram",
        language="uk",
        text="мій номер 0501234567",
    )


async def seed(db: Database) -> dict[str, int]:
    """Customers ``a`` (nothing held), ``h`` (on legal hold) and ``t`` (a ticket on hold), each
    with an old and a new message, closed ticket and analytics event."""
    ids: dict[str, int] = {}
    async with db.transaction() as s:
        queue = HandoffQueue(topic="general", language="uk")
        s.add(queue)
        await s.flush()
        ids["a"], ids["h"], ids["t"] = (
            await _customer(s, "Iryna"),
            await _customer(s, "Held", hold=True),
            await _customer(s, "Ticket held"),
        )
        for who in ("a", "h", "t"):
            s.add_all([_message(ids[who], OLD, f"old {who}"), _message(ids[who], NEW, "new")])
            old = _ticket(queue.id, ids[who], OLD, hold=who == "t")
            s.add_all([old, _ticket(queue.id, ids[who], NEW)])
            await s.flush()
            ids[f"ticket_{who}"] = old.id
            s.add(TicketEvent(ticket_id=old.id, kind="note", data={"note": "rang her"}))
        for at in (OLD, NEW):
            s.add(ProactiveEvent(event_id=f"e{at:%j}", type="booking", customer_id=ids["a"],
                                 fingerprint="f", at=at, received_at=at))  # fmt: skip
        await record_async(s, [
            _event(1, ids["a"], OLD), _event(2, ids["a"], NEW), _event(3, ids["h"], OLD),
            _event(4, ids["t"], OLD, ids["ticket_t"]),
        ])  # fmt: skip
    await roll_up(db)
    async with db.transaction() as s:  # after the watermark: left until it is folded in
        await record_async(s, [_event(5, ids["a"], OLD)])
    return ids


def review_log(path: Path) -> Path:
    lines = [{"text": "old", "at": OLD.isoformat()}, {"text": "new", "at": NEW.isoformat()}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


async def snapshot(db: Database) -> dict[str, list[Any]]:
    tables = {
        "messages": "SELECT id, text FROM messages ORDER BY id",
        "tickets": "SELECT id, resolution FROM tickets ORDER BY id",
        "ticket_events": "SELECT id, data FROM ticket_events ORDER BY id",
        "events": "SELECT id, customer_id, text FROM analytics_events ORDER BY id",
        "rollups": "SELECT * FROM analytics_rollups ORDER BY id",
        "proactive": "SELECT id FROM proactive_events ORDER BY id",
    }
    async with db.session() as s:
        return {k: [tuple(r) for r in (await s.execute(text(q))).all()] for k, q in tables.items()}


EXPECTED = {
    "messages": 1,  # a's old message; h's and t's are held
    "tickets": 1,  # a's old ticket; h's customer and t's ticket are held
    "ticket_events": 1,
    "analytics_events": 1,  # a's old folded event (5 is after the watermark, 3 and 4 held)
    "proactive_events": 1,
    "proactive_decisions": 0,
    "review_log": 1,
}


async def test_a_dry_run_counts_what_the_run_then_clears(db: Database, tmp_path: Path) -> None:
    ids = await seed(db)
    policy = RetentionPolicy(**POLICY, review_log=review_log(tmp_path / "review.jsonl"))
    clock = Clock(T0)
    before, metrics = await snapshot(db), await summary(db, RANGE)

    dry = await retention_run(db, policy, clock(), dry_run=True)
    assert dry.counts == EXPECTED
    assert await snapshot(db) == before  # the dry run changed nothing
    assert len((tmp_path / "review.jsonl").read_text().splitlines()) == 2

    done = await retention_run(db, policy, clock())
    assert done.counts == dry.counts
    assert (await retention_run(db, policy, clock(), dry_run=True)).counts == dict.fromkeys(
        EXPECTED, 0
    )
    after = await snapshot(db)
    texts = {row[1] for row in after["messages"]}
    assert "old a" not in texts and {"old h", "old t", "new"} <= texts
    async with db.session() as s:
        a_old = await s.get(Ticket, ids["ticket_a"])
        t_old = await s.get(Ticket, ids["ticket_t"])
        notes = dict((await s.execute(select(TicketEvent.ticket_id, TicketEvent.data))).all())
    assert a_old is not None and a_old.resolution is None and a_old.slots == {}
    assert a_old.csat is None and a_old.status == "closed"  # the row stays for the reports
    assert t_old is not None and t_old.resolution is not None
    assert notes[ids["ticket_a"]] == {} and notes[ids["ticket_t"]] == {"note": "rang her"}
    events = {row[0]: row[1:] for row in after["events"]}
    assert events[1] == (None, None)  # a's old event: no person, no phrase
    assert all(events[n][0] is not None for n in (2, 3, 4, 5))
    assert len(after["proactive"]) == 1
    lines = (tmp_path / "review.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["new"]
    # aggregates: the rollups, their recount and the summary are as they were
    assert after["rollups"] == before["rollups"]
    assert (await reconcile(db)).ok
    # every number is; only the sample of typed fallback phrases lost the cleared one
    now = await summary(db, RANGE)
    assert now["top_fallbacks"] == [["мій номер 0501234567", 4]]
    assert metrics["top_fallbacks"] == [["мій номер 0501234567", 5]]
    assert {**now, "top_fallbacks": None} == {**metrics, "top_fallbacks": None}


async def test_the_bot_clock_decides_what_is_old(db: Database) -> None:
    await seed(db)
    policy = RetentionPolicy(transcripts_days=60)
    clock = Clock(T0)
    assert (await retention_run(db, policy, clock(), dry_run=True)).counts == {"messages": 0}
    clock.advance(dt.timedelta(days=25))  # the old messages are 65 days old now
    assert (await retention_run(db, policy, clock())).counts == {"messages": 1}
    clock.advance(dt.timedelta(days=40))  # and the new ones 70
    assert (await retention_run(db, policy, clock())).counts == {"messages": 1}


async def test_a_hold_lifted_lets_the_next_run_clear(db: Database) -> None:
    ids = await seed(db)
    policy = RetentionPolicy(transcripts_days=30)
    async with db.transaction() as s:
        held = await s.get(Customer, ids["h"])
        assert held is not None
        held.legal_hold = False
    assert (await retention_run(db, policy, T0)).counts == {"messages": 2}


async def test_each_run_is_audited_with_its_counts(db: Database) -> None:
    await seed(db)
    policy = RetentionPolicy(transcripts_days=30)
    await retention_run(db, policy, T0, dry_run=True)
    await retention_run(db, policy, T0)
    async with db.session() as s:
        rows = (await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(r.action, r.actor, r.detail) for r in rows] == [
        ("retention.dry_run", "system", {"messages_rows": 1}),
        ("retention.purged", "system", {"messages_rows": 1}),
    ]


async def test_nothing_is_cleared_without_an_age(db: Database) -> None:
    await seed(db)
    before = await snapshot(db)
    later = T0 + dt.timedelta(days=999)
    report = await retention_run(db, RetentionPolicy(transcripts_days=0), later)
    assert report.counts == {} and "nothing" in report.text()
    assert await snapshot(db) == before
