"""The metrics summary of a date range (`GET /api/metrics/summary`): every number of
``METRICS.md`` as one JSON-ready dict.

Counts, rates, averages of scores, histograms and series come from the rollups plus the events
after the watermark (`storage.analytics.tally`); the response and resolution times
(`storage.analytics.times`) and the top fallback phrases are read from the events themselves
(one row per ticket, one per fallback).
Days are calendar days in the business's time zone (the rollups' daily views are folded in it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.analytics.models import EVENTS, READS
from storage.analytics.tally import Filters, Tally, read_tally
from storage.analytics.times import read_times
from storage.db import Database

__all__ = ["PROACTIVE_DECISIONS", "Query", "summary"]

PROACTIVE_DECISIONS = ("sent", "deferred", "capped", "suppressed", "unreachable", "expired")
TOP = 10
FALLBACK_SAMPLE = 5000  # the top fallback phrases are those of the range's latest fallbacks


@dataclass(frozen=True, slots=True)
class Query:
    """A summary request: local dates ``first``..``last`` (inclusive) and filters."""

    first: dt.date
    last: dt.date
    timezone: str = "Europe/Kyiv"
    channel: str | None = None
    language: str | None = None
    team: str | None = None
    agent_id: int | None = None
    fcr_days: int = 7

    def filters(self) -> Filters:
        zone = ZoneInfo(self.timezone)
        start = dt.datetime.combine(self.first, dt.time(), tzinfo=zone).astimezone(dt.UTC)
        end = dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        return Filters(
            start, end.astimezone(dt.UTC), self.channel, self.language, self.team, self.agent_id
        )


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _top_fallbacks(s: Session, filters: Filters) -> list[list[Any]]:
    """The most frequent phrases among the range's latest `FALLBACK_SAMPLE` fallbacks."""
    c = EVENTS.c
    latest = (
        select(c.text)
        .where(READS, c.kind == "fallback", c.text.is_not(None), *filters.where(EVENTS, "at"))
        .order_by(c.at.desc())
        .limit(FALLBACK_SAMPLE)
        .subquery()
    )
    n = func.count().label("n")
    rows = s.execute(
        select(latest.c.text, n)
        .group_by(latest.c.text)
        .order_by(n.desc(), latest.c.text)
        .limit(TOP)
    ).all()
    return [[r.text, int(r.n)] for r in rows]


def _read(s: Session, query: Query) -> tuple[Tally, dict[str, Any]]:
    filters = query.filters()
    tally = read_tally(s, filters, query.timezone, query.fcr_days)
    times = read_times(s, filters)
    raw = {
        "first_response": times["agent.first_response"],
        "resolution": times["ticket.resolved"],
        "top_fallbacks": _top_fallbacks(s, filters),
    }
    return tally, raw


async def summary(db: Database, query: Query, *, review_queue: int | None = None) -> dict[str, Any]:
    """Every metric of the range, shaped as `GET /api/metrics/summary` answers."""
    tally, raw = await db.run(lambda s: _read(s, query), write=False, snapshot=True)
    zone = ZoneInfo(query.timezone)
    return {
        "range": {
            "from": query.first.isoformat(),
            "to": query.last.isoformat(),
            "timezone": query.timezone,
        },
        "filters": {
            "channel": query.channel,
            "language": query.language,
            "team": query.team,
            "agent": query.agent_id,
        },
        **_conversations(tally),
        **_tasks(tally),
        **_tickets(tally, query),
        "first_response": raw["first_response"],
        "resolution": raw["resolution"],
        "proactive": _proactive(tally),
        "delivery_failures": _by_channel_and_reason(tally, "delivery.failed"),
        "nlu": _nlu(tally, review_queue),
        "series": _series(tally, query, zone),
        "by_hour": _by_local_hour(tally),
        "top_intents": _top(tally.grouped(tally.by_intent, "message.in")),
        "top_fallbacks": raw["top_fallbacks"],
    }


def _top(counts: dict[Any, int]) -> list[list[Any]]:
    found = sorted(((k, n) for k, n in counts.items() if k), key=lambda kn: (-kn[1], kn[0]))
    return [[k, n] for k, n in found[:TOP]]


def _by_channel(tally: Tally, kind: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for (k, channel, _), sums in tally.totals.items():
        if k == kind:
            out[channel or "unknown"] = out.get(channel or "unknown", 0) + sums[0]
    return dict(sorted(out.items()))


def _by_reason(tally: Tally, kind: str, prefix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    for (k, _, reason), sums in tally.totals.items():
        if k == kind and reason.startswith(prefix):
            name = reason[len(prefix) :] or "other"
            out[name] = out.get(name, 0) + sums[0]
    return dict(sorted(out.items()))


def _by_channel_and_reason(tally: Tally, kind: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (k, channel, reason), sums in tally.totals.items():
        if k == kind:
            causes = out.setdefault(channel or "unknown", {})
            causes[reason or "other"] = causes.get(reason or "other", 0) + sums[0]
    return {ch: dict(sorted(c.items())) for ch, c in sorted(out.items())}


def _conversations(tally: Tally) -> dict[str, Any]:
    languages = tally.grouped(tally.by_language, "conversation.started")
    intents = tally.grouped(tally.by_intent, "conversation.started")
    messages = tally.count("message.in", "bot")
    fallbacks = tally.count("fallback")
    return {
        "conversations": {
            "started": tally.count("conversation.started"),
            "by_channel": _by_channel(tally, "conversation.started"),
            "by_language": {k or "unknown": n for k, n in sorted(languages.items())},
            "by_first_intent": {k or "none": n for k, n in sorted(intents.items())},
        },
        "messages": {
            "in": tally.count("message.in"),
            "by_channel": _by_channel(tally, "message.in"),
        },
        "fallback": {"rate": rate(fallbacks, messages), "count": fallbacks, "messages": messages},
    }


def _tasks(tally: Tally) -> dict[str, Any]:
    started = tally.count("task.started")
    contained = tally.count("task.ended", "completed")
    abandoned = tally.count("task.ended", "abandoned")
    causes = _by_reason(tally, "task.ended", "handoff:")
    handed = sum(causes.values())
    return {
        "containment": {
            "rate": rate(contained, started),
            "contained": contained,
            "tasks_started": started,
            "abandoned": abandoned,
            "open": started - contained - abandoned - handed,
        },
        "handoff": {"rate": rate(handed, started), "count": handed, "by_reason": causes},
        "continuations": tally.count("continuation"),
    }


def _tickets(tally: Tally, query: Query) -> dict[str, Any]:
    resolved = tally.count("ticket.resolved")
    came_back = tally.count("fcr.came_back")
    asked, answered = tally.count("csat.asked"), tally.total("csat.answered")
    scores = tally.grouped(tally.by_bucket, "csat.answered")
    return {
        "tickets": {
            "created": tally.count("ticket.created"),
            "by_reason": _by_reason(tally, "ticket.created"),
            "claimed": tally.count("ticket.claimed"),
            "resolved": resolved,
        },
        "fcr": {
            "rate": rate(resolved - came_back, resolved),
            "resolved": resolved,
            "came_back": came_back,
            "days": query.fcr_days,
        },
        "csat": {
            "average": round(answered[1] / 1000 / answered[0], 3) if answered[0] else None,
            "distribution": {str(n): scores.get(n, 0) for n in range(1, 6)},
            "asked": asked,
            "answered": answered[0],
            "response_rate": rate(answered[0], asked),
        },
    }


def _proactive(tally: Tally) -> dict[str, int]:
    out = {d: tally.count(f"proactive.{d}") for d in PROACTIVE_DECISIONS}
    out["cancelled"] = tally.count("proactive.cancelled")
    out["replies"] = tally.count("proactive.reply")
    return out


def _nlu(tally: Tally, review_queue: int | None) -> dict[str, Any]:
    buckets = tally.grouped(tally.by_bucket, "message.in")
    return {
        "confidence_histogram": [[round(b / 10, 1), buckets.get(b, 0)] for b in range(10)],
        "without_nlu": buckets.get(-1, 0),
        "review_queue": review_queue,
    }


def _days(query: Query) -> list[dt.date]:
    return [query.first + dt.timedelta(days=i) for i in range((query.last - query.first).days + 1)]


def _series_name(kind: str, reason: str) -> str | None:
    """Which daily series a day's count of ``kind`` (with ``reason``) adds to."""
    if kind == "task.ended":
        if reason.startswith("handoff:"):
            return "handed"
        return "contained" if reason == "completed" else None
    return {
        "task.started": "started",
        "conversation.started": "volume",
        "csat.answered": "answered",
    }.get(kind)


def _series(tally: Tally, query: Query, zone: ZoneInfo) -> dict[str, list[Any]]:
    days = _days(query)
    index = {d: i for i, d in enumerate(days)}
    names = ("started", "contained", "handed", "volume", "answered", "score")
    counts: dict[str, list[int]] = {name: [0] * len(days) for name in names}
    for (day, kind, reason), sums in tally.by_day.items():
        i = index.get(day.astimezone(zone).date())
        name = _series_name(kind, reason)
        if i is None or name is None:
            continue
        counts[name][i] += sums[0]
        if name == "answered":
            counts["score"][i] += sums[1]
    started = counts["started"]
    return {
        "days": [d.isoformat() for d in days],
        "containment_rate": [
            rate(*pair) for pair in zip(counts["contained"], started, strict=True)
        ],
        "handoff_rate": [rate(*pair) for pair in zip(counts["handed"], started, strict=True)],
        "volume": counts["volume"],
        "csat_average": [
            round(score / 1000 / n, 3) if n else None
            for score, n in zip(counts["score"], counts["answered"], strict=True)
        ],
    }


def _by_local_hour(tally: Tally) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for (channel, hour), sums in tally.by_hour.items():
        out.setdefault(channel or "unknown", [0] * 24)[hour] += sums[0]
    return dict(sorted(out.items()))
