"""Reply templates per language, loaded from `bots/templates/<lang>.yml` and `<area>.<lang>.yml`."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import yaml

from bots.messages import ChannelEvent, OutboundMessage

LANGUAGES = ("uk", "en")


@cache
def _load(language: str) -> dict[str, Any]:
    """`<lang>.yml` plus every `<area>.<lang>.yml` (one file per area: flows, identity,
    handoff...), merged; a key defined twice is an error, not a silent override."""
    folder = resources.files("bots").joinpath("templates")
    names = sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name == f"{language}.yml" or entry.name.endswith(f".{language}.yml")
    )
    merged: dict[str, Any] = {}
    for name in names:
        data = yaml.safe_load(folder.joinpath(name).read_text("utf-8"))
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ValueError(f"templates/{name} must be a mapping")
        clash = merged.keys() & data.keys()
        if clash:
            raise ValueError(f"templates/{name} redefines {sorted(clash)}")
        merged.update(data)
    if not merged:
        raise ValueError(f"no templates for language {language!r}")
    return merged


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

    def all(self, language: str) -> dict[str, Any]:
        """Every template of ``language`` as loaded (no English fallback)."""
        return dict(_load(language))

    def __call__(self, key: str, language: str | None, **values: Any) -> str:
        template = self.raw(key, language)
        if not isinstance(template, str):
            raise TypeError(f"template {key!r} is not a string")
        return template.format_map(values)


def viber_welcome(default_language: str) -> Callable[[ChannelEvent], OutboundMessage | None]:
    """Viber's one welcome message on `conversation_started`, in the user's language."""
    templates = Templates(default_language)

    def welcome(event: ChannelEvent) -> OutboundMessage | None:
        user = event.raw.get("user") if isinstance(event.raw, dict) else None
        language = str((user or {}).get("language") or "")[:2].lower()
        lang = language if language in LANGUAGES else default_language
        return OutboundMessage(text=templates("welcome", lang))

    return welcome
