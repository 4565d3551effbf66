from __future__ import annotations

import pytest

from nlu.evaluate import entity_metrics, intent_metrics


def test_intent_metrics() -> None:
    gold = ["a", "a", "b", "b"]
    pred = ["a", "b", "b", "b"]
    m = intent_metrics(gold, pred)
    assert m["accuracy"] == 0.75
    assert m["per_intent"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert m["per_intent"]["b"]["precision"] == pytest.approx(0.6667)
    assert m["macro_f1"] == pytest.approx((0.6667 + 0.8) / 2, abs=1e-3)


def test_entity_metrics_need_exact_span_and_type() -> None:
    gold = {(0, 0, 5, "time"), (1, 3, 8, "phone"), (2, 0, 4, "service")}
    pred = {(0, 0, 5, "time"), (1, 3, 9, "phone"), (2, 0, 4, "time")}
    m = entity_metrics(gold, pred)
    assert (m["micro_precision"], m["micro_recall"]) == (pytest.approx(1 / 3, abs=1e-3),) * 2
    assert m["per_type"]["time"]["precision"] == 0.5
    assert m["per_type"]["phone"]["recall"] == 0.0
    assert m["per_type"]["service"]["support"] == 1
