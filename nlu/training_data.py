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

from nlu.errors import DataError

# Same shape Rasa 3 accepts: [text](type), [text](type:value), [text]{...}, [text][{...}, {...}]
_ENTITY_RE = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<type>[^:)]+?)(?::(?P<value>[^)]+))?\)"
    r"|(?P<dict>\{[^}]*\})"
    r"|\[(?P<list>[^\]]*)\])"
)
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
class EntitySpan:
    """An annotated entity inside a training example (character offsets into the plain text)."""

    entity: str
    value: str
    start: int
    end: int
    text: str
    role: str | None = None
    group: str | None = None


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


def load_data(paths: Sequence[str | Path]) -> TrainingData:
    """Load Rasa NLU YAML (and ``{"text","intent"}`` JSONL) files or folders of them.

    Folders are searched recursively; YAML files without an ``nlu:`` key (domain, stories,
    config) are skipped. Raises ``DataError`` naming the file and line on broken data.
    """
    data = TrainingData()
    for path in paths:
        p = Path(path)
        if not p.exists():
            raise DataError("no such file or folder", file=p)
        for f in _data_files(p):
            data.merge(load_file(f))
    if not data.examples:
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


def load_file(path: str | Path) -> TrainingData:
    """Load one NLU file (YAML or JSONL)."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read file: {e}", file=p) from e
    if p.suffix == ".jsonl":
        return _load_jsonl(raw, p)
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
        if name == "nlu":
            _load_nlu_section(value, p, out)
        elif name not in _OTHER_RASA_KEYS:
            raise DataError(f"unknown top-level key {name!r}", file=p, line=_line(key))
    return out


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _load_nlu_section(node: yaml.Node, p: Path, out: TrainingData) -> None:
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~"):
        return
    if not isinstance(node, yaml.SequenceNode):
        raise DataError("'nlu:' must be a list of blocks", file=p, line=_line(node))
    lang = file_language(p)
    for item in node.value:
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
        _add_block(kind, name, lines, p, lang, out)


def _add_block(
    kind: str, name: str, lines: list[tuple[str, int]], p: Path, lang: str | None, out: TrainingData
) -> None:
    """One ``intent``/``synonym``/``regex``/``lookup`` block's examples into ``out``."""
    if kind == "intent":
        for text, line in lines:
            plain, spans = parse_annotated(text, file=str(p), line=line)
            if not plain.strip():
                raise DataError(f"empty example in intent {name!r}", file=p, line=line)
            out.examples.append(Example(plain, name, tuple(spans), str(p), line, lang))
            for s in spans:
                if s.value != s.text:
                    out.synonyms[s.text.lower()] = s.value
    elif kind == "synonym":
        for text, _ in lines:
            out.synonyms[text.lower()] = name
    elif kind == "regex":
        for text, line in lines:
            try:
                re.compile(text)
            except re.error as e:
                raise DataError(f"invalid regex for {name!r}: {e}", file=p, line=line) from e
            out.regexes.setdefault(name, []).append(text)
    else:
        out.lookups.setdefault(name, []).extend(text for text, _ in lines)


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


def _load_jsonl(raw: str, p: Path) -> TrainingData:
    out = TrainingData(files=[str(p)])
    lang = file_language(p)
    for i, row in enumerate(raw.splitlines(), start=1):
        if not row.strip():
            continue
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
        out.examples.append(Example(text, intent, spans, str(p), i, lang))
    return out
