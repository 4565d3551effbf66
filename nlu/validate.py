"""Data checks behind ``omnirelay nlu validate`` (errors are raised by the loader)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from nlu.errors import DataError
from nlu.lang import detect_language
from nlu.training_data import Example, TrainingData

MIN_EXAMPLES = 5


@dataclass(frozen=True)
class Warning_:
    """One data problem that does not stop training."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: warning: {self.message}"


def counted(n: int, noun: str) -> str:
    """``1 example``, ``2 examples``, ``0 entity types``: English nouns with a plain -s."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def error_line(e: DataError) -> str:
    """A loading error as the warnings read: ``file:line: error: what``."""
    where = f"{e.file}:{e.line}: " if e.line is not None else f"{e.file}: " if e.file else ""
    return f"{where}error: {e.reason}"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def check_data(data: TrainingData, *, min_examples: int = MIN_EXAMPLES) -> list[Warning_]:
    """Duplicate examples (within or across intents), thin intents, one-off entity types, and
    examples in another language than their file's tag."""
    out: list[Warning_] = []
    by_text: dict[str, list[Example]] = defaultdict(list)
    for ex in data.examples:
        by_text[_norm(ex.text)].append(ex)
    for group in by_text.values():
        intents = sorted({e.intent for e in group})
        if len(intents) == 1 and len(group) > 1:
            first, again = group[0], group[1]
            msg = f"{first.text!r} repeated in intent {first.intent!r} ({again.file}:{again.line})"
            out.append(Warning_(first.file, first.line, msg))
        if len(intents) > 1:
            first = group[0]
            where = ", ".join(f"{e.intent} ({e.file}:{e.line})" for e in group)
            out.append(Warning_(first.file, first.line, f"{first.text!r} is under {where}"))
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for ex in data.examples:
        by_intent[ex.intent].append(ex)
    for intent, exs in sorted(by_intent.items()):
        if len(exs) < min_examples:
            only = counted(len(exs), "example")
            msg = f"intent {intent!r} has only {only} (want {min_examples}+)"
            out.append(Warning_(exs[0].file, exs[0].line, msg))
    by_entity: dict[str, list[Example]] = defaultdict(list)
    for ex in data.examples:
        for span in ex.entities:
            by_entity[span.entity].append(ex)
    for entity, exs in sorted(by_entity.items()):
        if len(exs) == 1:
            out.append(Warning_(exs[0].file, exs[0].line,
                                f"entity type {entity!r} is annotated only once"))  # fmt: skip
    for ex in data.examples:
        if ex.language is None:
            continue
        letters = sum(ch.isalpha() for ch in ex.text)
        found = detect_language(ex.text, default=ex.language)
        if letters >= 3 and found != ex.language:
            msg = f"{ex.text!r} looks {found}, file is tagged {ex.language}"
            out.append(Warning_(ex.file, ex.line, msg))
    return sorted(out, key=lambda w: (w.file, w.line))
