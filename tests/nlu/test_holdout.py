"""The tuning hold-out (`nlu.holdout`): chosen by each text's hash, so adding examples never
moves an old one between training and hold-out (a shuffled split redrew all of them and moved
the bundled model's fallback threshold from 0.486 to 0.68 on 10 added examples)."""

from __future__ import annotations

from collections import Counter

from nlu import bundled_data_path, load_data
from nlu.holdout import holdout_position, holdout_split
from nlu.normalise import normalise_text

SHARE = 0.15
ADDED = [
    ("чи можна записатися на четвер після обіду", "book_appointment"),
    ("can i move my visit to next week", "reschedule_appointment"),
    ("скасуйте мій запис будь ласка", "cancel_appointment"),
    ("where's my parcel at", "check_order_status"),
    ("до котрої ви сьогодні", "ask_opening_hours"),
    ("which street is your salon on", "ask_address"),
    ("почому манікюр", "ask_prices"),
    ("дякую вам велике", "thank"),
    ("who painted the mona lisa", "out_of_scope"),
    ("ok bye for now", "goodbye"),
]


def _bundled() -> tuple[list[str], list[str]]:
    examples = load_data([bundled_data_path()]).examples
    return [normalise_text(e.text) for e in examples], [e.intent for e in examples]


def _sides(texts: list[str], labels: list[str]) -> dict[tuple[str, str], bool]:
    """Each (text, intent) and whether it is held out."""
    train, held = holdout_split(texts, labels, SHARE)
    assert sorted(train + held) == list(range(len(texts)))
    return {**{(texts[i], labels[i]): False for i in train},
            **{(texts[i], labels[i]): True for i in held}}  # fmt: skip


def test_adding_examples_moves_no_old_example_between_the_sides() -> None:
    texts, labels = _bundled()
    before = _sides(texts, labels)
    assert not set(ADDED) & set(before)
    new_texts, new_labels = [t for t, _ in ADDED], [lab for _, lab in ADDED]
    # added at the end, or first: the order of the data does not matter either
    for grown in (
        _sides(texts + new_texts, labels + new_labels),
        _sides(new_texts + texts, new_labels + labels),
    ):
        assert {k: grown[k] for k in before} == before
        assert set(grown) - set(before) == set(ADDED)


def test_each_intent_holds_out_about_the_share() -> None:
    texts, labels = _bundled()
    _, held = holdout_split(texts, labels, SHARE)
    assert 0.12 <= len(held) / len(texts) <= 0.18
    per_intent = Counter(labels[i] for i in held)
    for intent, n in Counter(labels).items():
        assert 0.05 <= per_intent[intent] / n <= 0.3, intent


def test_copies_of_a_text_are_on_one_side() -> None:
    copies = ["Where is my order", "where  is my ORDER", "where is my order"]
    others = [f"order {word} status" for word in ("one", "two", "three", "four", "five", "six")]
    texts = copies + others + ["hi", "hello", "hey"]
    labels = ["status"] * (len(copies) + len(others)) + ["greet"] * 3
    assert len({holdout_position(t) for t in copies}) == 1  # case and spacing aside, one text
    # every share that cuts between the intent's lowest and highest text (so the rule of one
    # example on each side does not apply): the copies stay together
    cuts = sorted({holdout_position(t) for t in texts[: len(copies) + len(others)]})[1:]
    for share in cuts + [c + 1e-9 for c in cuts[:-1]]:
        _, held = holdout_split(texts, labels, share)
        assert len(set(held) & {0, 1, 2}) in (0, 3), share


def test_small_intents_keep_an_example_on_each_side() -> None:
    texts = ["a b", "c d", "e f", "g h", "single"]
    labels = ["x", "x", "y", "y", "z"]
    for share in (0.0, 0.5, 1.0):
        train, held = holdout_split(texts, labels, share)
        assert {labels[i] for i in held} == {"x", "y"}
        assert {labels[i] for i in train} == {"x", "y", "z"}
        assert len(held) == 2
    # no intent with two examples: one example is still held out, so tuning has data
    train, held = holdout_split(["one", "two", "three"], ["a", "b", "c"], SHARE)
    assert len(held) == 1 and len(train) == 2


def test_the_position_is_fixed_by_the_text_alone() -> None:
    # blake2b, not Python's salted hash: the same value in every process (and so every run)
    assert holdout_position("hello") == holdout_position("HELLO ")
    assert holdout_position("п'ятниця") == holdout_position("пʼятниця")
    assert 0.0 <= holdout_position("hello") < 1.0
    assert holdout_position("hello") != holdout_position("hello!")
