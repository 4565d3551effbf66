"""Inline entity annotations of Rasa training examples: ``[text](type)``, ``[text](type:value)``,
``[text]{"entity": ...}`` and ``[text][{...}, {...}]``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from nlu.errors import DataError

__all__ = ["EntitySpan", "parse_annotated"]

# Same shape Rasa 3 accepts: [text](type), [text](type:value), [text]{...}, [text][{...}, {...}]
_ENTITY_RE = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<type>[^:)]+?)(?::(?P<value>[^)]+))?\)"
    r"|(?P<dict>\{[^}]*\})"
    r"|\[(?P<list>[^\]]*)\])"
)


@dataclass(frozen=True)
class EntitySpan:
    """An annotated entity inside a training example (character offsets into the plain text)."""

    entity: str
    value: str
    start: int
    end: int
    text: str
    role: str | None = None
    group: str | None = None


def parse_annotated(text: str, *, file: str = "", line: int = 0) -> tuple[str, list[EntitySpan]]:
    """Strip inline entity annotations from ``text``; return the plain text and its entities."""
    plain: list[str] = []
    spans: list[EntitySpan] = []
    pos = 0
    for m in _ENTITY_RE.finditer(text):
        before = text[pos : m.start()]
        _check_no_stray_brackets(before, file, line)
        plain.append(before)
        start = sum(len(p) for p in plain)
        ent_text = m.group("text")
        end = start + len(ent_text)
        plain.append(ent_text)
        for spec in _entity_specs(m, file, line):
            spans.append(
                EntitySpan(
                    entity=spec["entity"],
                    value=spec.get("value") or ent_text,
                    start=start,
                    end=end,
                    text=ent_text,
                    role=spec.get("role"),
                    group=spec.get("group"),
                )
            )
        pos = m.end()
    rest = text[pos:]
    _check_no_stray_brackets(rest, file, line)
    plain.append(rest)
    return "".join(plain), spans


def _check_no_stray_brackets(chunk: str, file: str, line: int) -> None:
    opened = chunk.rfind("[")
    if opened >= 0 and "]" not in chunk[opened:]:
        raise DataError(f"unclosed '[' in example: {chunk.strip()!r}", file=file, line=line)
    m = re.search(r"\][({]", chunk)
    if m:
        raise DataError(
            f"malformed entity annotation near {chunk[max(0, m.start() - 20) :].strip()!r} "
            '(expected [text](type) or [text]{"entity": ...})',
            file=file,
            line=line,
        )


def _entity_specs(m: re.Match[str], file: str, line: int) -> list[dict[str, str]]:
    if m.group("type") is not None:
        spec = {"entity": m.group("type").strip()}
        if m.group("value"):
            spec["value"] = m.group("value").strip()
        return [spec]
    raw = m.group("dict") if m.group("dict") is not None else f"[{m.group('list')}]"
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as e:
        raise DataError(f"invalid entity JSON {raw!r}: {e.msg}", file=file, line=line) from e
    items = parsed if isinstance(parsed, list) else [parsed]
    specs: list[dict[str, str]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("entity"), str):
            raise DataError(
                f'entity annotation {raw!r} needs an "entity" key', file=file, line=line
            )
        specs.append({k: str(v) for k, v in item.items() if v is not None})
    return specs
