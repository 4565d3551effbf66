from __future__ import annotations

from collections import Counter

from nlu import bundled_data_path, bundled_test_path, load_data
from nlu.validate import check_data

REQUIRED = {
    "greet", "goodbye", "thank", "affirm", "deny", "book_appointment", "reschedule_appointment",
    "cancel_appointment", "check_order_status", "ask_opening_hours", "ask_address", "ask_prices",
    "request_human", "link_account", "stop", "forget_me", "inform", "out_of_scope", "complaint",
}  # fmt: skip


def test_bundled_data_covers_intents_in_both_languages() -> None:
    train = load_data([bundled_data_path()])
    test = load_data([bundled_test_path()])
    assert set(train.intents) == REQUIRED == set(test.intents)
    counts = Counter((e.intent, e.language) for e in train.examples + test.examples)
    for intent in REQUIRED:
        for lang in ("uk", "en"):
            assert counts[intent, lang] >= 40, (intent, lang)
    held_out = Counter(e.intent for e in test.examples)
    assert all(n >= 20 for n in held_out.values())
    assert abs(len(test.examples) / (len(train.examples) + len(test.examples)) - 0.2) < 0.01
    assert not {e.text for e in train.examples} & {e.text for e in test.examples}
    assert {"service", "time", "order_number", "phone", "email"} <= set(train.entity_types)


def test_bundled_data_validates_clean() -> None:
    assert check_data(load_data([bundled_data_path()])) == []
