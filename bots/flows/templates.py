"""Reply templates per language, loaded from `bots/templates/<lang>.yml`."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("uk", "en")


@cache
def _load(language: str) -> dict[str, Any]:
    text = resources.files("bots").joinpath("templates", f"{language}.yml").read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"templates/{language}.yml must be a mapping")
    return data


class Templates:
    """`t("greet", "uk", name_part=", Олено")`.

    A key missing in one language falls back to English."""

    def __init__(self, default_language: str = "uk") -> None:
        self.default_language = default_language
        for language in LANGUAGES:
            _load(language)

    def raw(self, key: str, language: str | None) -> Any:
        lang = language if language in LANGUAGES else self.default_language
        value = _load(lang).get(key)
        if value is None:
            value = _load("en").get(key)
        if value is None:
            raise KeyError(f"no template {key!r}")
        return value

    def __call__(self, key: str, language: str | None, **values: Any) -> str:
        template = self.raw(key, language)
        if not isinstance(template, str):
            raise TypeError(f"template {key!r} is not a string")
        return template.format_map(values)
