from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nlu.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_train_parse_test_end_to_end(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "models" / "nlu.model"
    assert main(["train", str(tiny_data), "--out", str(model)]) == 0
    err = capsys.readouterr().err
    assert "training intent classifier" in err and f"saved {model}" in err

    args = ["parse", "--model", str(model), "--now", "2026-11-20T10:00", "--tz", "Europe/Kyiv"]
    assert main([*args, "де", "моє", "замовлення", "A1001"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["intent"]["name"] == "check_order_status"
    assert out["confidence"] == out["intent"]["confidence"]
    assert out["ranking"] == out["intent_ranking"]
    assert out["entities"][0]["value"] == "A1001"
    assert out["language"] == "uk"


def test_test_command_report_and_plot(
    tiny_data: Path, tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, plot = tmp_path / "report.json", tmp_path / "cm.png"
    args = ["test", "--model", str(tiny_model_path), str(tiny_data)]
    assert main([*args, "--report", str(report), "--plot", str(plot)]) == 0
    table = capsys.readouterr().out
    assert "check_order_status" in table and "macro F1" in table
    data = json.loads(report.read_text())
    for key in ("accuracy", "macro_f1", "weighted_f1", "per_intent", "entities"):
        assert key in data
    assert {"micro_precision", "micro_recall", "micro_f1", "per_type"} <= set(data["entities"])
    assert data["parse_ms_p50"] > 0 and data["parse_ms_p99"] >= data["parse_ms_p50"]
    assert data["accuracy"] > 0.9  # it has seen these examples
    assert data["entities"]["per_type"]["order_number"]["f1"] == 1.0
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_cross_validation(tiny_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(tiny_data), "--cross-validation", "2"]) == 0
    captured = capsys.readouterr()
    assert "fold 2/2" in captured.err
    assert "accuracy" in captured.out


def test_validate_reports_errors_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text('version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - [x(y)\n')
    assert main(["validate", str(bad)]) == 1
    assert f"{bad}:5:" in capsys.readouterr().err

    warn = tmp_path / "faq.uk.yml"
    warn.write_text(
        'version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - привіт\n'
        "    - hello how are you\n    - [so](rare)\n"
        "- intent: b\n  examples: |\n    - привіт\n    - добрий день\n    - добрий  день\n"
    )
    assert main(["validate", str(warn)]) == 0
    out = capsys.readouterr().out
    assert "is under a" in out and "looks en, file is tagged uk" in out
    assert "'добрий день' repeated in intent 'b'" in out
    assert "'rare' is annotated only once" in out and "has only" in out
    assert main(["validate", "--strict", str(warn)]) == 1


def test_missing_model_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "--model", str(tmp_path / "none.model"), "hi"]) == 1
    assert "error:" in capsys.readouterr().err


def test_usage_error_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert main(["--help"]) == 0
    capsys.readouterr()


def test_review_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nlu import ReviewLog, load_data

    log = ReviewLog(tmp_path / "review.jsonl")
    log.record("шо там по грошах", "uk", [("ask_prices", 0.41), ("inform", 0.2)], "telegram")
    log.record("hmm???", "en", [], "viber")
    out = tmp_path / "review.yml"
    assert main(["review", "--export", str(out), "--log", str(log.path)]) == 0
    assert "exported 2 examples" in capsys.readouterr().err
    data = load_data([out])
    assert {(e.intent, e.text) for e in data.examples} == {
        ("ask_prices", "шо там по грошах"),
        ("nlu_fallback", "hmm???"),
    }


def test_subprocess_parse(tiny_model_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "nlu.cli", "parse", "--model", str(tiny_model_path), "hello"],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["intent"]["name"] == "greet"


def test_train_with_custom_order_pattern(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.model"
    pattern = r"\bORD-(?P<num>\d{3})\b"
    args = ["train", str(tiny_data), "--out", str(model), "--quiet"]
    assert main([*args, "--order-pattern", pattern]) == 0
    assert main(["parse", "--model", str(model), "where is ORD-123"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(e["entity"], e["value"]) for e in out["entities"]] == [("order_number", "123")]
    assert main([*args, "--order-pattern", "(unclosed"]) == 2
