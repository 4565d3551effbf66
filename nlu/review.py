"""The review list: low-confidence and fallback messages seen in production, for annotation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from nlu.errors import DataError
from nlu.types import IntentScore


@dataclass(frozen=True)
class ReviewItem:
    """One message the model was unsure about."""

    text: str
    language: str
    ranking: list[tuple[str, float]]
    channel: str
    at: str


class ReviewLog:
    """Append-only JSONL file of messages to review. Appends are small and line-atomic."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(
        self,
        text: str,
        language: str,
        ranking: Sequence[IntentScore | tuple[str, float]],
        channel: str,
        at: datetime | None = None,
    ) -> ReviewItem:
        """Append one message with its top intents (at most 5 kept)."""
        pairs = [
            (r.name, round(r.confidence, 4))
            if isinstance(r, IntentScore)
            else (r[0], round(r[1], 4))
            for r in list(ranking)[:5]
        ]
        when = (at or datetime.now(UTC)).isoformat(timespec="seconds")
        item = ReviewItem(text, language, pairs, channel, when)
        line = json.dumps(asdict(item), ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
        return item

    def items(self) -> list[ReviewItem]:
        """All recorded items (a missing file is an empty list)."""
        if not self.path.exists():
            return []
        out = []
        for i, row in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not row.strip():
                continue
            try:
                d: dict[str, Any] = json.loads(row)
                out.append(
                    ReviewItem(
                        str(d["text"]),
                        str(d.get("language", "")),
                        [(str(n), float(c)) for n, c in d.get("ranking", [])],
                        str(d.get("channel", "")),
                        str(d.get("at", "")),
                    )
                )
            except (ValueError, KeyError, TypeError) as e:
                raise DataError(f"bad review record: {e}", file=self.path, line=i) from e
        return out


def export_yaml(items: Iterable[ReviewItem], out: str | Path) -> int:
    """Write Rasa 3 YAML grouped by the suggested (top) intent; returns the number of examples.

    Each example keeps its context in Rasa's per-example ``metadata`` so annotators see it; the
    file loads as training data once moved under the right intents.
    """
    groups: dict[str, dict[str, ReviewItem]] = {}
    for item in items:
        top = item.ranking[0][0] if item.ranking else "nlu_fallback"
        groups.setdefault(top, {}).setdefault(item.text.strip(), item)
    nlu = []
    for intent in sorted(groups):
        examples = [
            {
                "text": text,
                "metadata": {
                    "language": it.language,
                    "channel": it.channel,
                    "at": it.at,
                    "ranking": [f"{n} {c:.2f}" for n, c in it.ranking],
                },
            }
            for text, it in groups[intent].items()
            if text
        ]
        nlu.append({"intent": intent, "examples": examples})
    doc = {"version": "3.1", "nlu": nlu}
    header = "# Review list exported by `omnirelay nlu review`: move each example under its true\n"
    header += "# intent, annotate entities, then add the file to the training data.\n"
    Path(out).write_text(
        header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return sum(len(g) for g in groups.values())
