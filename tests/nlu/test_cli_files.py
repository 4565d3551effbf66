"""`omnirelay nlu` works on the service's own files, reports every data error in one run, and
counts in English ("1 example", "2 examples")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bots.cli import main as omnirelay
from bots.config import Settings
from bots.settings_views import review_log
from nlu.cli import main

SEVERAL_ERRORS = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - [x(y)
    - hello
- intent: order
  examples: |
    - where is [A1001]{"entity": }
    - track my order
- regex: order_number
  examples: |
    - A(\\d{4
- colour: blue
- intent: empty
"""


@pytest.fixture
def service_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own and no OMNIRELAY_* variables: the settings' defaults."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("OMNIRELAY_"):
            monkeypatch.delenv(name)
    return tmp_path


def test_review_export_reads_the_list_the_service_writes(
    service_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = review_log(Settings())  # what the worker appends fallbacks to
    assert written is not None
    written.record("шо там по грошах", "uk", [("ask_prices", 0.41)], "telegram")
    out = service_env / "review.yml"
    assert omnirelay(["nlu", "review", "--export", str(out)]) == 0
    assert "exported 1 example from" in capsys.readouterr().err
    assert "шо там по грошах" in out.read_text(encoding="utf-8")


def test_review_export_follows_the_setting(
    service_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OMNIRELAY_NLU_REVIEW_LOG", str(service_env / "elsewhere" / "list.jsonl"))
    written = review_log(Settings())
    assert written is not None and written.path == service_env / "elsewhere" / "list.jsonl"
    written.record("hmm???", "en", [], "viber")
    written.record("and what now", "en", [("greet", 0.2)], "viber")
    out = service_env / "review.yml"
    assert omnirelay(["nlu", "review", "--export", str(out)]) == 0
    assert "exported 2 examples from" in capsys.readouterr().err
    # without the service's setting, the standalone command asks where the list is
    assert main(["review", "--export", str(out)]) == 2
    assert "--log" in capsys.readouterr().err


def test_train_writes_the_model_the_service_loads(
    service_env: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIRELAY_NLU_MODEL", str(service_env / "m" / "custom.model"))
    assert omnirelay(["nlu", "train", "--quiet", str(tiny_data)]) == 0
    assert Settings().nlu_model.is_file()


def test_validate_reports_every_error_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(SEVERAL_ERRORS, encoding="utf-8")
    rows = tmp_path / "more.jsonl"
    rows.write_text('{"text": "hi", "intent": "greet"}\n{"text": "no intent"}\n', "utf-8")
    assert main(["validate", str(bad), str(rows), str(tmp_path / "missing.yml")]) == 1
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    for where, what in [
        (f"{bad}:6:", "unclosed '['"),
        (f"{bad}:10:", "invalid entity JSON"),
        (f"{bad}:14:", "invalid regex"),
        (f"{bad}:15:", "unknown block"),
        (f"{bad}:16:", "has no examples"),
        (f"{rows}:2:", "bad JSONL record"),
        (f"{tmp_path / 'missing.yml'}:", "no such file"),
    ]:
        assert any(e.startswith(where) and "error:" in e and what in e for e in errors), (
            where,
            errors,
        )
    assert len(errors) == 7, errors
    # the good examples around them are loaded and counted
    assert "4 examples, 2 intents, 0 entity types, 7 errors" in captured.out


def test_counts_are_singular_for_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = tmp_path / "one.yml"
    one.write_text('version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - [so](rare)\n', "utf-8")
    assert main(["validate", str(one)]) == 0
    out = capsys.readouterr().out
    assert "1 example, 1 intent, 1 entity type, 0 errors, 2 warnings" in out
    assert "has only 1 example (want 5+)" in out
    assert "examples" not in out.replace("2 warnings", "")


def test_train_and_test_list_every_error_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(SEVERAL_ERRORS, encoding="utf-8")
    for args in (["train", "--quiet", "--out", str(tmp_path / "m.model")], ["test"]):
        assert main([*args, str(bad)]) == 1
        err = capsys.readouterr().err.splitlines()
        assert [e.split(": error:")[0] for e in err[:-1]] == [
            f"{bad}:{line}" for line in (6, 10, 14, 15, 16)
        ]
        assert err[-1] == "error: 5 errors in the data (listed above)"
    assert not (tmp_path / "m.model").exists()
