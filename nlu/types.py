"""Value types shared by every NLU backend: entities, parse results and the model protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"


@dataclass(frozen=True)
class Entity:
    """One entity found in a message; ``start``/``end`` are character offsets into the text."""

    entity: str
    value: Any
    start: int | None
    end: int | None
    text: str
    extractor: str
    role: str | None = None
    group: str | None = None
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Rasa-compatible JSON shape (optional keys only when set)."""
        out: dict[str, Any] = {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "extractor": self.extractor,
        }
        if self.role is not None:
            out["role"] = self.role
        if self.group is not None:
            out["group"] = self.group
        if self.confidence is not None:
            out["confidence_entity"] = round(self.confidence, 4)
        return out


@dataclass(frozen=True)
class IntentScore:
    """An intent name with its confidence."""

    name: str
    confidence: float


@dataclass(frozen=True)
class ParseResult:
    """What a model understood from one message.

    ``ranking`` is sorted by confidence (highest first): the top 10 of a distribution that sums
    to 1 over all the model's labels. ``intent`` is ``nlu_fallback`` when the top confidence is
    under the model's threshold; ``confidence`` is then still the top intent's.
    """

    text: str
    intent: str
    confidence: float
    ranking: list[IntentScore] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    language: str = "en"

    def entity_values(self, name: str) -> list[Any]:
        """Values of every entity of type ``name``, in text order."""
        return [e.value for e in self.entities if e.entity == name]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape printed by ``omnirelay nlu parse``."""
        return {
            "text": self.text,
            "intent": {"name": self.intent, "confidence": round(self.confidence, 4)},
            "intent_ranking": [
                {"name": s.name, "confidence": round(s.confidence, 4)} for s in self.ranking
            ],
            "entities": [e.to_dict() for e in self.entities],
            "language": self.language,
        }


@runtime_checkable
class NluModel(Protocol):
    """What the worker needs from any NLU backend."""

    async def parse(
        self,
        text: str,
        *,
        language: str | None = None,
        now: datetime | None = None,
        tz: str | None = None,
    ) -> ParseResult:
        """Understand one message; ``now``/``tz`` anchor relative dates ("tomorrow")."""
        ...

    def info(self) -> dict[str, Any]:
        """Model metadata: data hash, labels, training date, versions."""
        ...


def ranking_from_pairs(pairs: Sequence[tuple[str, float]]) -> list[IntentScore]:
    """Build a sorted ranking from ``(name, confidence)`` pairs."""
    return [IntentScore(n, float(c)) for n, c in sorted(pairs, key=lambda p: -p[1])]
