"""Rasa 3.x YAML NLU training data: examples with inline entities, synonyms, regexes, lookups.

Errors name the file and the line (``DataError``); nothing is read at import time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlu.annotations import EntitySpan, parse_annotated
from nlu.errors import DataError, collecting

__all__ = [
    "YAML_SUFFIXES",
    "EntitySpan",
    "Example",
    "TrainingData",
    "file_language",
    "load_data",
    "load_file",
    "parse_annotated",
]

_ITEM_KEYS = {"intent", "synonym", "regex", "lookup"}
_ALLOWED_KEYS = {"examples", "metadata", "file", "use_regexes", "use_lookup_tables"}
# Top-level keys of Rasa project files that are not NLU data (domain, stories, rules, ...).
_OTHER_RASA_KEYS = {
    "version", "nlu", "stories", "rules", "responses", "intents", "entities", "slots", "forms",
    "actions", "session_config", "e2e_actions", "retrieval_intents", "config", "language",
    "pipeline", "policies", "recipe", "assistant_id", "test_stories",
}  # fmt: skip
YAML_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class Example:
    """One training example: plain text, intent and annotated entities, with its origin."""

    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()
    file: str = ""
    line: int = 0
    language: str | None = None

    def annotated(self) -> str:
        """The example in Rasa's inline annotation syntax."""
        out, pos = [], 0
        for ent in sorted(self.entities, key=lambda e: e.start):
            out.append(self.text[pos : ent.start])
            spec: dict[str, str] = {"entity": ent.entity}
            if ent.value != ent.text:
                spec["value"] = ent.value
            if ent.role:
                spec["role"] = ent.role
            if ent.group:
                spec["group"] = ent.group
            if len(spec) == 1:
                out.append(f"[{ent.text}]({ent.entity})")
            else:
                out.append(f"[{ent.text}]{json.dumps(spec, ensure_ascii=False)}")
            pos = ent.end
        out.append(self.text[pos:])
        return "".join(out)


@dataclass
class TrainingData:
    """Everything loaded from a set of NLU files."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # lowercased variant -> canonical
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def intents(self) -> list[str]:
        """Sorted distinct intent names."""
        return sorted({e.intent for e in self.examples})

    @property
    def entity_types(self) -> list[str]:
        """Sorted distinct annotated entity types."""
        return sorted({s.entity for e in self.examples for s in e.entities})

    def merge(self, other: TrainingData) -> None:
        """Add ``other``'s contents to this one."""
        self.examples.extend(other.examples)
        self.synonyms.update(other.synonyms)
        for name, pats in other.regexes.items():
            self.regexes.setdefault(name, []).extend(pats)
        for name, items in other.lookups.items():
            self.lookups.setdefault(name, []).extend(items)
        self.files.extend(other.files)


def load_data(
    paths: Sequence[str | Path], *, errors: list[DataError] | None = None
) -> TrainingData:
    """Load Rasa NLU YAML (and ``{"text","intent"}`` JSONL) files or folders of them.

    Folders are searched recursively; YAML files without an ``nlu:`` key (domain, stories,
    config) are skipped. Raises ``DataError`` naming the file and line on broken data, or,
    given an ``errors`` list, adds every one to it and loads the rest.
    """
    data = TrainingData()
    files: list[Path] = []
    for path in paths:
        p = Path(path)
        with collecting(errors):
            if not p.exists():
                raise DataError("no such file or folder", file=p)
            files.extend(_data_files(p))
    # Read in one order whatever order they were listed in: the same data trains the same
    # model (the thresholds' validation split follows the examples' order; trial F15).
    for f in sorted(set(files), key=lambda f: (f.name, str(f))):
        with collecting(errors):
            data.merge(load_file(f, errors=errors))
    if not data.examples and not errors:
        raise DataError("no training examples found in " + ", ".join(str(p) for p in paths))
    return data


def _data_files(p: Path) -> Iterable[Path]:
    if p.is_file():
        return [p]
    return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in (*YAML_SUFFIXES, ".jsonl"))


def file_language(path: str | Path) -> str | None:
    """The language a file is tagged with by its name (``faq.uk.yml``, ``uk_faq.yml``, ``uk/``)."""
    p = Path(path)
    tokens = [*re.split(r"[._\-]", p.stem.lower()), p.parent.name.lower()]
    for lang in ("uk", "en"):
        if lang in tokens:
            return lang
    return None


def load_file(path: str | Path, *, errors: list[DataError] | None = None) -> TrainingData:
    """Load one NLU file (YAML or JSONL); ``errors``: see `load_data`."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read file: {e}", file=p) from e
    if p.suffix == ".jsonl":
        return _load_jsonl(raw, p, errors)
    try:
        root = yaml.compose(raw, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark is not None else None
        raise DataError(f"invalid YAML: {e.problem or e}", file=p, line=line) from e
    except yaml.YAMLError as e:
        raise DataError(f"invalid YAML: {e}", file=p) from e
    out = TrainingData(files=[str(p)])
    if root is None:
        return out
    if not isinstance(root, yaml.MappingNode):
        raise DataError("expected a mapping with an 'nlu:' key", file=p, line=_line(root))
    for key, value in root.value:
        name = str(key.value)
        with collecting(errors):
            if name == "nlu":
                _load_nlu_section(value, p, out, errors)
            elif name not in _OTHER_RASA_KEYS:
                raise DataError(f"unknown top-level key {name!r}", file=p, line=_line(key))
    return out


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _load_nlu_section(
    node: yaml.Node, p: Path, out: TrainingData, errors: list[DataError] | None
) -> None:
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~"):
        return
    if not isinstance(node, yaml.SequenceNode):
        raise DataError("'nlu:' must be a list of blocks", file=p, line=_line(node))
    lang = file_language(p)
    for item in node.value:
        with collecting(errors):
            _load_item(item, p, lang, out, errors)


def _load_item(
    item: yaml.Node, p: Path, lang: str | None, out: TrainingData, errors: list[DataError] | None
) -> None:
    """One block of the ``nlu:`` list."""
    if not isinstance(item, yaml.MappingNode):
        raise DataError("each 'nlu:' item must be a mapping", file=p, line=_line(item))
    keys = {str(k.value): v for k, v in item.value}
    kinds = _ITEM_KEYS & keys.keys()
    unknown = keys.keys() - _ITEM_KEYS - _ALLOWED_KEYS
    if len(kinds) != 1 or unknown:
        what = ", ".join(sorted(unknown)) if unknown else ", ".join(sorted(keys))
        raise DataError(
            f"unknown block ({what}); expected one of intent, synonym, regex, lookup",
            file=p,
            line=_line(item),
        )
    kind = kinds.pop()
    name_node = keys[kind]
    name = str(name_node.value).strip() if isinstance(name_node, yaml.ScalarNode) else ""
    if not name:
        raise DataError(f"'{kind}:' needs a name", file=p, line=_line(name_node))
    lines = _example_lines(keys.get("examples"), keys.get("file"), p, _line(item))
    if not lines:
        raise DataError(f"{kind} {name!r} has no examples", file=p, line=_line(item))
    _add_block(kind, name, lines, p, lang, out, errors)


def _add_block(
    kind: str,
    name: str,
    lines: list[tuple[str, int]],
    p: Path,
    lang: str | None,
    out: TrainingData,
    errors: list[DataError] | None,
) -> None:
    """One ``intent``/``synonym``/``regex``/``lookup`` block's examples into ``out``."""
    if kind == "intent":
        for text, line in lines:
            with collecting(errors):
                _add_example(text, line, name, p, lang, out)
    elif kind == "synonym":
        for text, _ in lines:
            out.synonyms[text.lower()] = name
    elif kind == "regex":
        for text, line in lines:
            with collecting(errors):
                try:
                    re.compile(text)
                except re.error as e:
                    raise DataError(f"invalid regex for {name!r}: {e}", file=p, line=line) from e
                out.regexes.setdefault(name, []).append(text)
    else:
        out.lookups.setdefault(name, []).extend(text for text, _ in lines)


def _add_example(
    text: str, line: int, intent: str, p: Path, lang: str | None, out: TrainingData
) -> None:
    plain, spans = parse_annotated(text, file=str(p), line=line)
    if not plain.strip():
        raise DataError(f"empty example in intent {intent!r}", file=p, line=line)
    out.examples.append(Example(plain, intent, tuple(spans), str(p), line, lang))
    for s in spans:
        if s.value != s.text:
            out.synonyms[s.text.lower()] = s.value


def _example_lines(
    node: yaml.Node | None, file_node: yaml.Node | None, p: Path, item_line: int
) -> list[tuple[str, int]]:
    """``(text, line)`` pairs from a block string, a list of strings/``{text: ...}`` or a file."""
    if file_node is not None and isinstance(file_node, yaml.ScalarNode):
        return _lookup_file(p.parent / str(file_node.value), p, _line(file_node))
    if node is None:
        return []
    if isinstance(node, yaml.ScalarNode):
        value = str(node.value)
        first = _line(node) + (1 if node.style in ("|", ">") else 0)
        stripped = value.strip()
        if stripped and "\n" not in stripped and not stripped.startswith("- "):
            ref = p.parent / stripped
            if ref.suffix in (".txt", ".csv") or ref.is_file():
                return _lookup_file(ref, p, _line(node))
        out: list[tuple[str, int]] = []
        for i, raw in enumerate(value.split("\n")):
            s = raw.strip()
            if not s:
                continue
            if not s.startswith("-"):
                raise DataError(f"example must start with '- ': {s!r}", file=p, line=first + i)
            out.append((s[1:].strip(), first + i))
        return out
    if isinstance(node, yaml.SequenceNode):
        items: list[tuple[str, int]] = []
        for child in node.value:
            if isinstance(child, yaml.ScalarNode):
                items.append((str(child.value).strip(), _line(child)))
            elif isinstance(child, yaml.MappingNode):
                fields = {str(k.value): v for k, v in child.value}
                t = fields.get("text")
                if not isinstance(t, yaml.ScalarNode):
                    raise DataError("example mapping needs 'text:'", file=p, line=_line(child))
                items.append((str(t.value).strip(), _line(t)))
        return items
    raise DataError("'examples' must be a block string or a list", file=p, line=item_line)


def _lookup_file(ref: Path, p: Path, line: int) -> list[tuple[str, int]]:
    try:
        rows = ref.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read lookup file {ref}: {e}", file=p, line=line) from e
    return [(r.strip().lstrip("- ").strip(), i + 1) for i, r in enumerate(rows) if r.strip()]


def _load_jsonl(raw: str, p: Path, errors: list[DataError] | None = None) -> TrainingData:
    out = TrainingData(files=[str(p)])
    lang = file_language(p)
    for i, row in enumerate(raw.splitlines(), start=1):
        if not row.strip():
            continue
        with collecting(errors):
            out.examples.append(_jsonl_example(row, p, i, lang))
    return out


def _jsonl_example(row: str, p: Path, i: int, lang: str | None) -> Example:
    try:
        obj: Any = json.loads(row)
        text, intent = str(obj["text"]), str(obj["intent"])
        spans = tuple(
            EntitySpan(
                entity=str(e["entity"]),
                value=str(e.get("value", text[e["start"] : e["end"]])),
                start=int(e["start"]),
                end=int(e["end"]),
                text=text[e["start"] : e["end"]],
                role=e.get("role"),
                group=e.get("group"),
            )
            for e in obj.get("entities", [])
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"bad JSONL record: {e}", file=p, line=i) from e
    return Example(text, intent, spans, str(p), i, lang)
