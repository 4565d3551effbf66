from __future__ import annotations

import numpy as np

from nlu.vectors import WordVectors, tokens, vocabulary


def _table() -> WordVectors:
    words = ["booking", "cancel", "привіт", "don't", "don", "t"]
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(len(words), 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return WordVectors.build(words, vecs, ["booking cancel", "привіт", "don't cancel"])


def test_tokens_lowercase_skip_digits_and_split_compounds() -> None:
    assert tokens("Don’t CANCEL order A1001 at 15:00") == [
        "don't",
        "don",
        "t",
        "cancel",
        "order",
        "at",
    ]
    assert vocabulary(["b a", "a c"]) == ["a", "b", "c"]


def test_known_words_come_from_the_table() -> None:
    wv = _table()
    assert wv.dim == 8
    assert wv.known("cancel") and not wv.known("cancelled")
    vec = wv.word("cancel")
    assert vec is not None and vec.shape == (8,)


def test_unknown_words_fall_back_to_their_character_ngrams() -> None:
    wv = _table()
    near = wv.word("bookings")  # shares <bo, boo, ook, oki, kin, ing ... with "booking"
    assert near is not None
    assert abs(float(np.linalg.norm(near)) - 1.0) < 1e-5
    assert float(near @ wv.word("booking")) > float(near @ wv.word("привіт"))  # type: ignore[operator]
    assert wv.word("xyzq") is None  # no known n-gram at all


def test_sentence_vectors_are_unit_length_or_zero() -> None:
    wv = _table()
    vec = wv.sentence("Cancel my booking")
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
    assert not wv.sentence("12345 ???").any()
    assert wv.sentences(["cancel", "привіт"]).shape == (2, 8)
