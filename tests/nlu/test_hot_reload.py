from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nlu import HotReloadingModel, NluModel, train_model
from nlu.model import BuiltinModel

OTHER = """version: "3.1"
nlu:
- intent: thank
  examples: |
    - thanks
    - thank you
    - дякую
- intent: stop
  examples: |
    - stop
    - unsubscribe
    - відписатися
"""


def _write(path: Path, data: bytes | None = None) -> None:
    path.write_bytes(path.read_bytes() if data is None else data)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def model_copy(tiny_model_path: Path, tmp_path: Path) -> Path:
    path = tmp_path / "nlu.model"
    shutil.copy(tiny_model_path, path)
    return path


@pytest.fixture(scope="module")
def other_model(tmp_path_factory: pytest.TempPathFactory) -> BuiltinModel:
    data = tmp_path_factory.mktemp("other") / "nlu.yml"
    data.write_text(OTHER, encoding="utf-8")
    return train_model([data])


async def test_reloads_new_file_after_interval(model_copy: Path, other_model: BuiltinModel) -> None:
    clock = Clock()
    model = HotReloadingModel(model_copy, check_interval=10, clock=clock)
    assert isinstance(model, NluModel)
    assert (await model.parse("hi")).intent == "greet"
    other_model.save(model_copy)
    assert (await model.parse("дякую")).intent != "thank"  # not checked yet
    clock.now = 11
    assert (await model.parse("дякую")).intent == "thank"
    assert model.reloads == 1
    assert model.info()["labels"] == ["stop", "thank"]


async def test_broken_new_file_keeps_old_model(
    model_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = await HotReloadingModel.open(model_copy, check_interval=0)
    _write(model_copy, b"definitely not a model")
    assert (await model.parse("hi")).intent == "greet"
    assert model.reloads == 0
    assert "new file rejected" in caplog.text
    assert await model.reload_if_changed() is False  # not retried until it changes again


async def test_threshold_override_survives_reload(
    model_copy: Path, other_model: BuiltinModel
) -> None:
    model = HotReloadingModel(
        model_copy, check_interval=0, fallback_threshold=1.5
    )  # above any confidence
    assert (await model.parse("hi")).intent == "nlu_fallback"
    other_model.save(model_copy)
    assert (await model.parse("thanks")).intent == "nlu_fallback"
    assert model.reloads == 1 and model.model.threshold == 1.5


async def test_unchanged_content_is_not_reloaded(model_copy: Path) -> None:
    model = HotReloadingModel(model_copy, check_interval=0)
    _write(model_copy)  # new mtime, same bytes
    assert await model.reload_if_changed() is False
    assert model.reloads == 0
