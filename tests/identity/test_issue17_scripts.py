"""Issue 17, told as cross-channel scripts (the format of tests/conversations/cross_channel/
README.md) through the signed webhooks, embedded and, where marked, on PostgreSQL + Redis:

- `order_scripts/`: anyone who knew an order number got the whole order. A chat the order is
  not linked to (placed under its profile, or with a phone verified for it: a contact shared on
  Telegram or Viber, a phone confirmed with a code) sees its status and dates only; a typed
  phone proves nothing.
- `phone_scripts/`: the phone was asked for again right after the customer shared it to link
  accounts. A phone shared, confirmed with a code or typed to link accounts is kept, and no
  flow asks for it (or for the joined profile's name) again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversations.conftest import conversation_settings
from tests.conversations.cross_channel.channels import Fakes
from tests.conversations.cross_channel.conftest import fakes  # noqa: F401 (fixture)
from tests.conversations.cross_channel.harness import channel_settings, play
from tests.conversations.runner import Script, load_scripts

HERE = Path(__file__).parent
FOLDERS = ("order_scripts", "phone_scripts")
SCRIPTS = [s for folder in FOLDERS for s in load_scripts(HERE / folder)]
MODES = {"embedded": (), "scaleout": (pytest.mark.redis, pytest.mark.postgres)}


def _cases() -> list[object]:
    cases: list[object] = []
    for script in SCRIPTS:
        for mode, marks in MODES.items():
            if mode == "embedded" or script.scaleout:
                name = script.path.stem if mode == "embedded" else f"{script.path.stem}-{mode}"
                cases.append(pytest.param(script, mode, id=name, marks=marks))
    return cases


@pytest.mark.parametrize(("script", "mode"), _cases())
async def test_script(
    script: Script,
    mode: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    nlu_model_path: Path,
    fakes: Fakes,  # noqa: F811 (the fixture imported above)
) -> None:
    overrides = channel_settings(fakes)
    settings = conversation_settings(request, mode, tmp_path, nlu_model_path, **overrides)
    _, failure = await play(settings, fakes, script)
    if failure is not None:
        raise failure


@pytest.mark.parametrize("folder", FOLDERS)
def test_both_languages(folder: str) -> None:
    scripts = load_scripts(HERE / folder)
    assert {c.get("language") for s in scripts for c in s.customers.values()} == {"uk", "en"}
