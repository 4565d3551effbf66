"""Issue 17: the phone was asked for again right after the customer shared it to link accounts.
A phone shared (a contact), confirmed (a code) or typed to link accounts is kept in the session
and on the profile, and no flow asks for it (or for the joined profile's name) again.
Cross-channel scripts (`phone_scripts/*.yml`, the format of
tests/conversations/cross_channel/README.md) through the signed webhooks, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversations.conftest import conversation_settings
from tests.conversations.cross_channel.channels import Fakes
from tests.conversations.cross_channel.conftest import fakes  # noqa: F401 (fixture)
from tests.conversations.cross_channel.harness import channel_settings, play
from tests.conversations.runner import Script, load_scripts

SCRIPTS = load_scripts(Path(__file__).parent / "phone_scripts")
CASES = [pytest.param(s, "embedded", id=s.path.stem) for s in SCRIPTS] + [
    pytest.param(
        s, "scaleout", id=f"{s.path.stem}-scaleout", marks=[pytest.mark.redis, pytest.mark.postgres]
    )
    for s in SCRIPTS
    if s.scaleout
]


@pytest.mark.parametrize(("script", "mode"), CASES)
async def test_phone_not_asked_again(
    script: Script,
    mode: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    nlu_model_path: Path,
    fakes: Fakes,  # noqa: F811 (the fixture imported above)
) -> None:
    settings = conversation_settings(
        request, mode, tmp_path, nlu_model_path, **channel_settings(fakes)
    )
    _, failure = await play(settings, fakes, script)
    if failure is not None:
        raise failure


def test_both_languages() -> None:
    languages = {c.get("language") for s in SCRIPTS for c in s.customers.values()}
    assert languages == {"uk", "en"}
