"""The business's public facts (name, address, opening hours) and matching service names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bots.flows.backends import ServiceView

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class BusinessProfile:
    """What the FAQ answers; loaded from YAML (see ``bots/flows/demo_business.yml``)."""

    name: dict[str, str]
    address: dict[str, str]
    phone: str | None
    hours: dict[str, str] = field(default_factory=dict)  # "mon" -> "08:00-20:00"
    payment: dict[str, str] = field(default_factory=dict)  # how to pay, per language

    @classmethod
    def load(cls, path: Path | None = None) -> BusinessProfile:
        """The profile at ``path``, or the bundled demo clinic's."""
        if path is None:
            text = resources.files("bots.flows").joinpath("demo_business.yml").read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        doc: Any = yaml.safe_load(text)
        if not isinstance(doc, dict):
            raise ValueError(f"business profile {path or 'demo'} must be a mapping")

        def per_language(key: str) -> dict[str, str]:
            value = doc.get(key) or {}
            if isinstance(value, str):
                return {"uk": value, "en": value}
            return {str(k): str(v) for k, v in value.items()}

        hours = {str(k): str(v) for k, v in (doc.get("hours") or {}).items() if v}
        unknown = hours.keys() - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"business profile: unknown weekdays {sorted(unknown)}")
        return cls(
            per_language("name"),
            per_language("address"),
            doc.get("phone"),
            hours,
            per_language("payment"),
        )


_WORD = re.compile(r"[^\W\d_]{3,}")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text.replace("’", "'"))]


def _similar(a: str, b: str) -> int:
    """2 for the same word, 1 for the same stem (Ukrainian endings vary), else 0. The
    customer's word ``a`` needs 4 letters for a stem: "про" is no "Професійна"; and a stem of
    3 letters only joins short words ("зуби", "зубів"): "стоит" ("costs") is no "стоматолога"."""
    if a == b:
        return 2
    if len(a) < 4:
        return 0
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    if common < 4 and max(len(a), len(b)) > 5:
        return 0
    return 1 if common >= 3 and common >= 0.6 * min(len(a), len(b)) else 0


def match_services(text: str | None, services: Sequence[ServiceView]) -> list[ServiceView]:
    """The services ``text`` names best (several on a tie: ask which), by word similarity with
    the services' codes and names in both languages; empty when none is named."""
    words = _words(text or "")
    if not words:
        return []
    scored: list[tuple[int, ServiceView]] = []
    for service in services:
        names = {service.code, *_words(service.name_uk), *_words(service.name_en)}
        score = sum(max(_similar(w, n) for n in names) for w in words)
        if score:
            scored.append((score, service))
    if not scored:
        return []
    best = max(score for score, _ in scored)
    return [service for score, service in scored if score == best]
