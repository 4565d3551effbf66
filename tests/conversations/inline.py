"""Conversations written in a test's code rather than in `scripts/*.yml`: for the checks that
run one dialogue per case of a parametrized table (every apostrophe, every weekday), through the
same runner and real pipeline as the scripts, embedded mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conversations.conftest import conversation_settings
from tests.conversations.runner import Conversation, parse_script, run_script, running_app

# One case of a table: (the customer's language, their upcoming bookings, the turns).
Case = tuple[str, list[dict[str, Any]], list[dict[str, Any]]]


async def talk(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    model: Path,
    turns: list[dict[str, Any]],
    customer: dict[str, Any] | None = None,
    name: str = "inline",
    settings: dict[str, Any] | None = None,
) -> Conversation:
    """Run ``turns`` (the scripts' turn format) for one customer; ScriptFailure on a miss.
    ``settings``: overrides, as a script's ``settings:``."""
    doc = {"name": name, "customer": customer or {}, "turns": turns}
    script = parse_script(doc, tmp_path / f"{name}.yml")
    app_settings = conversation_settings(request, "embedded", tmp_path, model, **(settings or {}))
    async with running_app(app_settings) as client:
        return await run_script(client, script)


async def talk_case(
    request: pytest.FixtureRequest, tmp_path: Path, model: Path, case: Case, **known: Any
) -> Conversation:
    """`talk` for one `Case`, the customer also known by ``known`` (name, phone...)."""
    language, bookings, turns = case
    customer = {**known, "language": language, "bookings": bookings}
    return await talk(request, tmp_path, model, turns, customer=customer)
