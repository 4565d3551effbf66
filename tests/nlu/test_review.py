from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from nlu import DataError, ReviewLog
from nlu.types import IntentScore


def test_record_and_read_back(tmp_path: Path) -> None:
    log = ReviewLog(tmp_path / "deep" / "review.jsonl")
    assert log.items() == []
    at = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    ranking = [IntentScore(f"i{n}", 0.1) for n in range(8)]
    item = log.record("щось незрозуміле", "uk", ranking, "instagram", at)
    assert item.ranking == [(f"i{n}", 0.1) for n in range(5)]
    assert log.items() == [item]
    assert log.items()[0].at == "2026-11-20T08:30:00+00:00"


def test_bad_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "review.jsonl"
    path.write_text('{"text": "ok", "ranking": []}\nnot json\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"review\.jsonl:2"):
        ReviewLog(path).items()
