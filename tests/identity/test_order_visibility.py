"""Issue 17: anyone who knew an order number got the whole order. A chat the order is not
linked to (placed under its profile, or with a phone verified for it: a contact shared on
Telegram or Viber, a phone confirmed with a code) sees its status and dates only; a typed
phone proves nothing. Cross-channel scripts (`order_scripts/*.yml`, the format of
tests/conversations/cross_channel/README.md) through the signed webhooks, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversations.conftest import conversation_settings
from tests.conversations.cross_channel.channels import Fakes
from tests.conversations.cross_channel.conftest import fakes  # noqa: F401 (fixture)
from tests.conversations.cross_channel.harness import channel_settings, play
from tests.conversations.runner import Script, load_scripts

SCRIPTS = load_scripts(Path(__file__).parent / "order_scripts")
CASES = [pytest.param(s, "embedded", id=s.path.stem) for s in SCRIPTS] + [
    pytest.param(
        s, "scaleout", id=f"{s.path.stem}-scaleout", marks=[pytest.mark.redis, pytest.mark.postgres]
    )
    for s in SCRIPTS
    if s.scaleout
]


@pytest.mark.parametrize(("script", "mode"), CASES)
async def test_order_visibility(
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
