"""The app freezes its start-up heap (the NLU model, libraries) out of the collector's sight for
shorter pauses, and gives it back when it ends: the test suite starts hundreds of apps in one
process, and each kept its model for good (~50 MB each with the dense model: the suite ran out
of memory)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from tests.conversations.conftest import conversation_settings
from tests.conversations.runner import running_app


async def test_the_frozen_heap_is_thawed_when_the_app_ends(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path
) -> None:
    settings = conversation_settings(request, "embedded", tmp_path, nlu_model_path)
    async with running_app(settings) as client:
        resp = await client.get("/healthz")
        assert resp.status == 200
        assert gc.get_freeze_count() > 0  # the model and libraries, out of the collector's way
    assert gc.get_freeze_count() == 0
