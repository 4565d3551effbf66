"""A process that runs one app (`omnirelay run`) freezes its start-up heap (the NLU model,
libraries) out of the collector's sight for shorter pauses, and gives it back when the app ends:
an app started after it in the same process kept the first one's model for good (~50 MB each
with the dense model: the test suite ran out of memory). Apps created without it freeze
nothing (the test suite's hundreds of apps: each full collection takes ~0.4 s)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from bots.app import freeze_heap
from tests.conversations.conftest import conversation_settings
from tests.conversations.runner import running_app


async def test_the_frozen_heap_is_thawed_when_the_app_ends(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path
) -> None:
    settings = conversation_settings(request, "embedded", tmp_path, nlu_model_path)
    async with running_app(settings, prepare=freeze_heap) as client:
        resp = await client.get("/healthz")
        assert resp.status == 200
        assert gc.get_freeze_count() > 0  # the model and libraries, out of the collector's way
    assert gc.get_freeze_count() == 0


async def test_an_app_freezes_nothing_unless_asked(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path
) -> None:
    settings = conversation_settings(request, "embedded", tmp_path, nlu_model_path)
    async with running_app(settings) as client:
        resp = await client.get("/healthz")
        assert resp.status == 200
        assert gc.get_freeze_count() == 0
