"""Before the service starts, its NLU model must load (trial T7): a model trained on the bundled
data that this installation cannot load (another sentence encoder after an upgrade) is trained
again, as a missing one is; anyone else's is refused with one clear line and exit code 2, never
overwritten, and never a traceback out of the web server's start-up."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from bots import cli
from bots.config import Settings
from bots.nlu_setup import _train_in_subprocess, ensure_model
from nlu import ModelLoadError
from nlu.modelfile import library_versions, write_model_file

OTHER_ENCODER = {"name": "some encoder", "version": "0.0.1", "weights_sha256": "0" * 64, "dim": 8}


def model_file(path: Path, files: list[str], encoder: dict[str, object] | None) -> Path:
    meta: dict[str, object] = {"files": files}
    if encoder is not None:
        meta["encoder"] = encoder
    write_model_file(path, {"meta": meta, "versions": library_versions()}, {"not": "a model"})
    return path


class Trainer:
    def __init__(self) -> None:
        self.trained: list[Path] = []

    def __call__(self, path: Path) -> None:
        self.trained.append(path)


def settings_for(path: Path) -> Settings:
    return Settings(nlu_model=str(path), nlu_backend="builtin")


def test_a_missing_model_is_trained(tmp_path: Path) -> None:
    train = Trainer()
    path = tmp_path / "models" / "nlu.model"
    assert ensure_model(settings_for(path), train) == path
    assert train.trained == [path]


def test_a_bundled_model_from_another_encoder_is_trained_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundled = ["/srv/old-checkout/nlu/data/train/nlu.en.yml", "/srv/old/nlu/data/train/x.yml"]
    path = model_file(tmp_path / "nlu.model", bundled, OTHER_ENCODER)
    train = Trainer()
    with caplog.at_level(logging.WARNING, logger="bots.nlu_setup"):
        ensure_model(settings_for(path), train)
    assert train.trained == [path]
    assert "some encoder" in caplog.text and "training it again" in caplog.text


def test_a_users_model_from_another_encoder_is_refused_not_overwritten(tmp_path: Path) -> None:
    mine = ["/home/me/bot/data/nlu.yml", "/srv/old/nlu/data/train/nlu.en.yml"]
    path = model_file(tmp_path / "nlu.model", mine, OTHER_ENCODER)
    before = path.read_bytes()
    train = Trainer()
    with pytest.raises(ModelLoadError, match="retrain the model"):
        ensure_model(settings_for(path), train)
    assert train.trained == [] and path.read_bytes() == before


def test_a_loadable_model_is_left_alone(tmp_path: Path) -> None:
    path = model_file(tmp_path / "nlu.model", ["/srv/x/nlu/data/train/nlu.en.yml"], None)
    train = Trainer()
    assert ensure_model(settings_for(path), train) == path
    assert train.trained == []


def test_omnirelay_run_says_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    path = model_file(tmp_path / "nlu.model", ["/home/me/nlu.yml"], OTHER_ENCODER)
    monkeypatch.setenv("OMNIRELAY_NLU_MODEL", str(path))
    monkeypatch.setenv("OMNIRELAY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    assert cli.main(["run", "--port", "0"]) == 2
    out = capfd.readouterr()
    logged = (out.out + out.err).splitlines()
    errors = [line for line in logged if " ERROR " in line]
    assert len(errors) == 1, logged
    assert "sentence encoder some encoder 0.0.1" in errors[0] and "retrain" in errors[0]
    assert not any("Traceback" in line for line in logged)


def test_the_training_subprocess_speaks_through_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Its lines reach the service's log (text or JSON), not bare stdout (trial T23)."""
    child = [sys.executable, "-c", "print('loading data'); print(); print('saved'); exit(3)"]
    with (
        caplog.at_level(logging.INFO, logger="bots.nlu_setup"),
        pytest.raises(RuntimeError, match="failed"),
    ):
        _train_in_subprocess(tmp_path / "nlu.model", child)
    relayed = [r.getMessage() for r in caplog.records if r.name == "bots.nlu_setup"]
    assert relayed == ["nlu: loading data", "nlu: saved"]
