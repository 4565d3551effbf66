"""Every cross-channel script (scripts/*.yml, format in README.md): one person on Telegram,
Viber, Instagram and REST, each turn through that channel's real, signed webhook and the bot's
replies read from the platform's fake API. Embedded mode always; scripts marked
`scaleout: true` on PostgreSQL + Redis too. A script with `xfail: reason` shows a known bug."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversations.conftest import conversation_settings
from tests.conversations.cross_channel.channels import Fakes
from tests.conversations.cross_channel.continuity import continuity
from tests.conversations.cross_channel.harness import channel_settings, cross_scripts, play
from tests.conversations.runner import Script

SCRIPTS = cross_scripts()


def _marks(script: Script, *extra: pytest.MarkDecorator) -> list[pytest.MarkDecorator]:
    marks = list(extra)
    if script.doc.get("xfail"):
        marks.append(pytest.mark.xfail(reason=str(script.doc["xfail"]), strict=False))
    return marks


CASES = [pytest.param(s, "embedded", id=s.path.stem, marks=_marks(s)) for s in SCRIPTS] + [
    pytest.param(
        s,
        "scaleout",
        id=f"{s.path.stem}-scaleout",
        marks=_marks(s, pytest.mark.redis, pytest.mark.postgres),
    )
    for s in SCRIPTS
    if s.scaleout
]


@pytest.mark.parametrize(("script", "mode"), CASES)
async def test_cross_channel_script(
    script: Script,
    mode: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    nlu_model_path: Path,
    fakes: Fakes,
) -> None:
    overrides = {**channel_settings(fakes), **(script.doc.get("settings") or {})}
    settings = conversation_settings(request, mode, tmp_path, nlu_model_path, **overrides)
    conversation, failure = await play(settings, fakes, script)
    if failure is not None:
        raise failure
    assert conversation.records, "the script sent nothing"
    if script.doc.get("continuity") is True:
        result = continuity(conversation.records)
        assert result.applies, "the script switches channel with nothing given before"
        assert result.continued, result.repeats


def test_scripts_cover_the_issue() -> None:
    """At least 8 scripts, unique names, every platform channel used, both languages."""
    assert len(SCRIPTS) >= 8
    names = [s.name for s in SCRIPTS]
    assert len(set(names)) == len(names), "script names must be unique"
    channels = {t.get("channel") for s in SCRIPTS for t in s.turns} | {
        p.get("channel") for s in SCRIPTS for t in s.turns for p in t.get("together") or []
    }
    assert {"telegram", "viber", "instagram"} <= channels
    languages = {c.get("language", "uk") for s in SCRIPTS for c in s.customers.values()}
    assert languages == {"uk", "en"}
    assert any(s.scaleout for s in SCRIPTS)
