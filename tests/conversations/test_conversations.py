"""Every YAML script in `scripts/` through the real pipeline (REST channel): embedded mode
always, scripts marked `scaleout: true` on PostgreSQL + Redis too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversations.conftest import conversation_settings
from tests.conversations.runner import Script, load_scripts, run_script, running_app

SCRIPTS = load_scripts()
CASES = [pytest.param(s, "embedded", id=s.path.stem) for s in SCRIPTS] + [
    pytest.param(
        s, "scaleout", id=f"{s.path.stem}-scaleout", marks=[pytest.mark.redis, pytest.mark.postgres]
    )
    for s in SCRIPTS
    if s.scaleout
]


@pytest.mark.parametrize(("script", "mode"), CASES)
async def test_conversation(
    script: Script,
    mode: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    nlu_model_path: Path,
) -> None:
    overrides = script.doc.get("settings") or {}
    settings = conversation_settings(request, mode, tmp_path, nlu_model_path, **overrides)
    async with running_app(settings) as client:
        conversation = await run_script(client, script)
    assert sum(conversation.turns_sent.values()) > 0


def test_enough_scripts_with_readable_names() -> None:
    assert len(SCRIPTS) >= 40
    names = [s.name for s in SCRIPTS]
    assert len(set(names)) == len(names), "script names must be unique"
