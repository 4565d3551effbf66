"""Fixtures of the cross-channel scripts: the three platform fakes (the model and throw-away
databases come from tests/conversations/conftest.py and tests/bots/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conversations.cross_channel.channels import Fakes
from tests.conversations.cross_channel.harness import open_fakes


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with open_fakes() as opened:
        yield opened
