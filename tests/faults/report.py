"""Per case: messages in, replies out, lost, duplicated, out of order, delays, recovery.

Definitions (the harness measures, it does not excuse):

- *in*: distinct customer messages the gateway acknowledged (a 2xx to any of the 3 copies).
- *refused*: webhook attempts answered non-2xx (or not at all); the platform retried them.
- *never acked*: messages no copy of which got a 2xx before the platforms gave up.
- *out*: attributable replies the platforms accepted (duplicates included).
- *lost*: acknowledged messages without any reply at the end.
- *duplicated*: replies beyond the first for one message.
- *out of order*: first replies that arrived after the first reply to a later message of the
  same customer.
- *max delay*: from the platform's first delivery attempt to the first reply.
- *recovery*: from the end of the fault until every message first sent before that end was
  answered (0 when nothing was waiting); empty when some of them were lost.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.faults.ledger import Key, Ledger, Reply


@dataclass
class CaseResult:
    case: str
    description: str
    sent: int
    acked: int
    refused: int
    never_acked: int
    replies: int
    unattributed: int
    lost: int
    duplicated: int
    out_of_order: int
    p50_delay_s: float | None
    max_delay_s: float | None
    recovery_s: float | None
    fault_s: float | None
    notes: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.out_of_order == 0
            and (self.never_acked == 0 and self.unattributed == 0)
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def summarise(
    case: str,
    description: str,
    ledger: Ledger,
    window: tuple[float, float] | None,
    notes: dict[str, Any],
) -> CaseResult:
    accepted = ledger.accepted()
    firsts = {m.key: min(r.at for r in ledger.by_key[m.key]) for m in accepted if m.key in
              ledger.by_key}  # fmt: skip
    lost = [m for m in accepted if m.key not in firsts]
    delays = sorted(firsts[m.key] - m.first_post for m in accepted if m.key in firsts)
    known = set(ledger.messages)
    ours = {(m.channel, m.customer) for m in ledger.messages.values()}
    mine = [r for r in ledger.replies if (r.channel, r.customer) in ours]
    stray = [r for r in mine if (r.channel, r.customer, r.seq) not in known]
    foreign = len(ledger.replies) - len(mine)  # to an earlier case's customers: late copies
    doubled = {k: rs for k, rs in ledger.by_key.items() if k in known and len(rs) > 1}
    disorder = _out_of_order(ledger)
    return CaseResult(
        case=case,
        description=description,
        sent=len(ledger.messages),
        acked=len(accepted),
        refused=sum(m.refused for m in ledger.messages.values()),
        never_acked=len(ledger.messages) - len(accepted),
        replies=len(mine) - len(stray),
        unattributed=len(stray),
        lost=len(lost),
        duplicated=sum(len(rs) - 1 for rs in doubled.values()),
        out_of_order=len(disorder),
        p50_delay_s=_round(delays[len(delays) // 2]) if delays else None,
        max_delay_s=_round(delays[-1]) if delays else None,
        recovery_s=_recovery(ledger, firsts, window),
        fault_s=_round(window[1] - window[0]) if window else None,
        notes={
            **notes,
            "webhook_statuses": dict(sorted(ledger.statuses.items())),
            "replies_to_earlier_cases": foreign,
            # every copy sent while the fault lasted: none was in flight when it began
            "doubled_inside_fault": sum(
                1
                for rs in doubled.values()
                if window is not None and all(window[0] < r.at < window[1] for r in rs)
            ),
        },
        examples={
            "lost": [f"{m.channel}:{m.customer}#{m.seq}" for m in lost[:5]],
            "duplicated": [_doubled(k, v, window) for k, v in list(doubled.items())[:5]],
            "out_of_order": disorder[:5],
            "unattributed": [f"{r.channel}:{r.customer}: {r.text[:80]!r}" for r in stray[:5]],
        },
    )


def _doubled(key: Key, copies: list[Reply], window: tuple[float, float] | None) -> str:
    """``channel:customer#seq xN``, with each copy's arrival in seconds from the fault's start
    (to tell a send in flight at the fault from a fencing gap)."""
    text = f"{key[0]}:{key[1]}#{key[2]} x{len(copies)}"
    if window is None:
        return text
    return text + " at " + ", ".join(f"{r.at - window[0]:+.2f}s" for r in copies)


def _out_of_order(ledger: Ledger) -> list[str]:
    """First replies of one customer that arrived after a later message's first reply."""
    first: dict[tuple[str, str], dict[int, Reply]] = defaultdict(dict)
    for reply in ledger.replies:  # arrival order
        if reply.seq is not None:
            first[(reply.channel, reply.customer)].setdefault(reply.seq, reply)
    found = []
    for (channel, customer), replies in first.items():
        highest = 0
        for reply in sorted(replies.values(), key=lambda r: r.at):
            if reply.seq < highest:  # type: ignore[operator]
                found.append(f"{channel}:{customer}: #{reply.seq} after #{highest}")
            highest = max(highest, reply.seq or 0)
    return found


def _recovery(
    ledger: Ledger, firsts: dict[Any, float], window: tuple[float, float] | None
) -> float | None:
    if window is None:
        return 0.0
    end = window[1]
    waiting = [m for m in ledger.accepted() if m.first_post <= end]
    if any(m.key not in firsts for m in waiting):
        return None
    latest = max((firsts[m.key] for m in waiting), default=end)
    return _round(max(0.0, latest - end))


def _round(value: float) -> float:
    return math.floor(value * 100 + 0.5) / 100


COLUMNS = (
    ("case", 22),
    ("in", 5),
    ("refused", 7),
    ("no-ack", 6),
    ("out", 5),
    ("lost", 5),
    ("dup", 4),
    ("order", 5),
    ("p50 s", 6),
    ("max s", 6),
    ("recov s", 7),
    ("ok", 3),
)


def table(results: list[CaseResult]) -> str:
    """A fixed-width table of the results, one line a case."""
    head = " ".join(name.ljust(width) for name, width in COLUMNS)
    lines = [head, "-" * len(head)]
    for r in results:
        cells = [
            r.case, r.acked, r.refused, r.never_acked, r.replies, r.lost, r.duplicated,
            r.out_of_order, _cell(r.p50_delay_s), _cell(r.max_delay_s), _cell(r.recovery_s),
            "yes" if r.ok else "NO",
        ]  # fmt: skip
        lines.append(" ".join(str(c).ljust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True)))
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
