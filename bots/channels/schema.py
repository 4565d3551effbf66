"""A small declarative schema for the parts of a webhook body a channel reads.

Each platform module describes the fields it uses (type, range, length, nesting) and checks a
decoded body against that description at the edge, before anything is built from it: a wrong
type there (`message.text: 5`) is a clear 400 instead of an error deep in the worker. Fields a
channel does not read are not described; `edge.decode_json` bounds them as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bots.channels.errors import MalformedPayload

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Spec(Protocol):
    @property
    def required(self) -> bool:
        """Whether the field must be present (and not null)."""
        ...

    def check(self, value: Any, path: str) -> None:
        """Raise `MalformedPayload` naming `path` unless `value` fits."""
        ...


def _fail(path: str, expected: str, value: Any) -> MalformedPayload:
    shown = type(value).__name__ if isinstance(value, dict | list) else repr(value)[:40]
    return MalformedPayload(f"{path}: expected {expected}, got {shown}")


@dataclass(frozen=True, slots=True)
class Str:
    max_len: int
    required: bool = False
    non_empty: bool = False

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise _fail(path, "a string", value)
        if len(value) > self.max_len or (self.non_empty and not value):
            raise _fail(path, f"1-{self.max_len} characters", f"{len(value)} characters")


@dataclass(frozen=True, slots=True)
class Int:
    lo: int = INT64_MIN
    hi: int = INT64_MAX
    required: bool = False

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, "an integer", value)
        if not self.lo <= value <= self.hi:
            raise _fail(path, f"an integer in [{self.lo}, {self.hi}]", value)


@dataclass(frozen=True, slots=True)
class Num:
    """An int or a finite float within [lo, hi] (coordinates, timestamps as floats)."""

    lo: float
    hi: float
    required: bool = False

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(path, "a number", value)
        if not (math.isfinite(value) and self.lo <= value <= self.hi):
            raise _fail(path, f"a number in [{self.lo}, {self.hi}]", value)


@dataclass(frozen=True, slots=True)
class IntOrStr:
    """An id or a timestamp that platforms send either way (Meta's dashboard test)."""

    max_len: int
    lo: int = INT64_MIN
    hi: int = INT64_MAX
    required: bool = False

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, str):
            Str(self.max_len, non_empty=True).check(value, path)
        else:
            Int(self.lo, self.hi).check(value, path)


@dataclass(frozen=True, slots=True)
class Bool:
    required: bool = False

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise _fail(path, "true or false", value)


@dataclass(frozen=True, slots=True)
class Obj:
    """An object whose listed fields fit their specs; `null` counts as absent, other keys are
    left alone."""

    fields: Mapping[str, Spec] = field(default_factory=dict)
    required: bool = False

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        for name, spec in self.fields.items():
            item = value.get(name)
            if item is None:
                if spec.required:
                    raise MalformedPayload(f"{path}.{name}: required")
                continue
            spec.check(item, f"{path}.{name}")


@dataclass(frozen=True, slots=True)
class Arr:
    item: Spec
    max_items: int
    required: bool = False

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise _fail(path, "a list", value)
        if len(value) > self.max_items:
            raise _fail(path, f"at most {self.max_items} items", f"{len(value)} items")
        for i, item in enumerate(value):
            if item is None:
                raise MalformedPayload(f"{path}[{i}]: null")
            self.item.check(item, f"{path}[{i}]")
