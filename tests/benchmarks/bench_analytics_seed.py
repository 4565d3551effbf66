"""Thirty days of analytics events for the benchmark, written through M1's writer
(`storage.analytics.events.record`, the turn's and the ticket's own insert) in batches: per
conversation ``conversation.started`` and its messages (``message.in`` with an NLU confidence,
5 % ``fallback`` with a phrase), ~0.8 tasks (``task.started``, ``task.ended`` completed,
abandoned or ``handoff:<cause>``), and for a hand-off the ticket's life (created, claimed,
agent's first response, resolved, CSAT asked and answered by half). Deterministic (seeded)."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from zoneinfo import ZoneInfo

from storage.analytics.events import Event, record
from storage.db import Database

FIRST = dt.date(2026, 11, 1)
LAST = dt.date(2026, 11, 30)
ZONE = ZoneInfo("Europe/Kyiv")
BATCH = 20_000

CHANNELS = (("telegram", 50), ("viber", 20), ("whatsapp", 20), ("rest", 10))
LANGUAGES = (("uk", 70), ("en", 30))
INTENTS = (
    "order_status",
    "book_appointment",
    "cancel_appointment",
    "greet",
    "thanks",
    "opening_hours",
    "prices",
    "request_human",
    "complaint",
    "delivery",
    "refund",
    "goodbye",
)
FLOWS = (("order_status", "orders"), ("book_appointment", "booking"), ("refund", "billing"))
ENDINGS = (
    ("completed", 70),
    ("abandoned", 12),
    ("handoff:request", 8),
    ("handoff:misses", 5),
    ("handoff:complaint", 3),
    ("handoff:error", 2),
)
PHRASES = [f"незрозуміла фраза {i}" for i in range(60)]


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


class _Writer:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.pending: list[Event] = []
        self.counts: Counter[str] = Counter()

    async def add(self, event: Event) -> None:
        self.pending.append(event)
        self.counts[event.kind] += 1
        if len(self.pending) >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        batch, self.pending = self.pending, []
        if batch:
            await self.db.run(lambda s: record(s, batch))


async def _ticket(w: _Writer, rng: random.Random, n: int, at: dt.datetime, base: dict) -> None:
    ticket = n + 1
    agent = rng.randint(1, 20)
    common = {**base, "ticket_id": ticket, "conversation_key": f"c{n}"}
    first = rng.uniform(20, 3600)
    done = first + rng.uniform(120, 6 * 3600)
    steps = [
        Event("ticket.created", f"t{ticket}", at, reason=base["reason"], **_no_reason(common)),
        Event(
            "ticket.claimed",
            f"t{ticket}",
            at + dt.timedelta(seconds=first / 2),
            agent_id=agent,
            **_no_reason(common),
        ),
        Event(
            "agent.first_response",
            f"t{ticket}",
            at + dt.timedelta(seconds=first),
            agent_id=agent,
            value=first,
            value_bh=first * 0.8,
            **_no_reason(common),
        ),
        Event(
            "ticket.resolved",
            f"t{ticket}",
            at + dt.timedelta(seconds=done),
            agent_id=agent,
            value=done,
            value_bh=done * 0.7,
            **_no_reason(common),
        ),
        Event(
            "csat.asked",
            f"t{ticket}",
            at + dt.timedelta(seconds=done),
            agent_id=agent,
            **_no_reason(common),
        ),
    ]
    if rng.random() < 0.5:
        score = float(rng.choices([1, 2, 3, 4, 5], [5, 5, 10, 30, 50])[0])
        steps.append(
            Event(
                "csat.answered",
                f"t{ticket}",
                at + dt.timedelta(seconds=done + 60),
                agent_id=agent,
                value=score,
                **_no_reason(common),
            )
        )
    for e in steps:
        await w.add(e)


def _no_reason(common: dict) -> dict:
    return {k: v for k, v in common.items() if k != "reason"}


async def _conversation(
    w: _Writer, rng: random.Random, n: int, start: dt.datetime, per: int, span: float
) -> None:
    at = start + dt.timedelta(seconds=rng.uniform(0, span))
    base = {"channel": _pick(rng, CHANNELS), "language": _pick(rng, LANGUAGES)}
    first_intent = rng.choice(INTENTS)
    key = f"c{n}"
    await w.add(
        Event("conversation.started", key, at, conversation_key=key, intent=first_intent, **base)
    )
    for m in range(per):
        t = at + dt.timedelta(seconds=m * rng.uniform(20, 90))
        intent = first_intent if m == 0 else rng.choice(INTENTS)
        fell = rng.random() < 0.05  # a fallback: the NLU was not sure
        conf = rng.uniform(0.05, 0.4) if fell else min(0.999, max(0.4, rng.gauss(0.82, 0.15)))
        mkey = f"{key}.{m}"
        reason = "bot" if rng.random() < 0.97 else "person"
        await w.add(
            Event(
                "message.in",
                mkey,
                t,
                conversation_key=key,
                intent=intent,
                reason=reason,
                value=conf,
                **base,
            )
        )
        if fell:
            await w.add(
                Event("fallback", mkey, t, conversation_key=key, text=rng.choice(PHRASES), **base)
            )
    if rng.random() < 0.8:
        flow, team = rng.choice(FLOWS)
        ending = _pick(rng, ENDINGS)
        end = at + dt.timedelta(seconds=rng.uniform(60, 900))
        task = {"conversation_key": key, "intent": flow, "team": team, **base}
        await w.add(Event("task.started", key, at, **task))
        await w.add(Event("task.ended", key, end, reason=ending, value=(end - at).seconds, **task))
        if ending.startswith("handoff:"):
            await _ticket(
                w,
                rng,
                n,
                end,
                {**base, "team": team, "intent": flow, "reason": ending.split(":", 1)[1]},
            )


async def seed(db: Database, messages: int, conversations: int) -> dict[str, int]:
    """Write the events; returns how many of each kind."""
    rng = random.Random(15)
    start = dt.datetime.combine(FIRST, dt.time(), tzinfo=ZONE).astimezone(dt.UTC)
    end = dt.datetime.combine(LAST + dt.timedelta(days=1), dt.time(), tzinfo=ZONE)
    span = (end.astimezone(dt.UTC) - start).total_seconds() - 12 * 3600  # all end in range
    per, extra = divmod(messages, conversations)
    w = _Writer(db)
    for n in range(conversations):
        await _conversation(w, rng, n, start, per + (1 if n < extra else 0), span)
    await w.flush()
    return dict(sorted(w.counts.items()))
