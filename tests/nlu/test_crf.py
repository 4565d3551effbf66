"""The entity CRF's features (`nlu.crf_features`) and training (`nlu.crf`)."""

from __future__ import annotations

import pickle

from nlu.crf import CrfConfig, CrfEntityExtractor, _fold_values
from nlu.crf_features import Gazetteer, features, span_features, tokenize
from nlu.extractors import RuleExtractor
from nlu.training_data import EntitySpan, Example


def _ex(text: str, *spans: tuple[str, str]) -> Example:
    ents = []
    for value, typ in spans:
        start = text.index(value)
        ents.append(EntitySpan(typ, value, start, start + len(value), value))
    return Example(text, "play", tuple(ents))


def test_tokenize_splits_a_possessive_but_not_a_ukrainian_apostrophe() -> None:
    assert [t[0] for t in tokenize("play Kasey Chambers's album")] == [
        "play", "Kasey", "Chambers", "'s", "album",
    ]  # fmt: skip
    assert [t[0] for t in tokenize("о дев'ятій, м'ясо")] == ["о", "дев'ятій", ",", "м'ясо"]


def test_gazetteer_marks_multi_token_matches_of_every_type() -> None:
    gaz = Gazetteer({"artist": ["Kasey Chambers", "kasey"], "playlist": ["chill out"]})
    lows = [t[0].lower() for t in tokenize("add kasey chambers to chill out")]
    marks = gaz.features(lows)
    assert marks[1] == ["gz:B-artist", "gz:B-artist"]  # "kasey" alone and "kasey chambers"
    assert marks[2] == ["gz:I-artist"]
    assert marks[4:] == [["gz:B-playlist"], ["gz:I-playlist"]]
    assert marks[0] == marks[3] == []


def test_training_examples_see_values_from_the_other_folds_only() -> None:
    examples = [_ex(f"play song{i} by band{i % 2}", (f"band{i % 2}", "artist")) for i in range(6)]
    folds = _fold_values(examples, 3)
    # example 0 is in fold 0: its band0 is also annotated in examples 2 and 4 (folds 2 and 1)
    assert "band0" in folds[0]["artist"]
    unique = [_ex("play x by solo act", ("solo act", "artist")), *examples]
    folds = _fold_values(unique, 3)
    assert "solo act" not in folds[0].get("artist", set())
    assert all("solo act" in folds[k]["artist"] for k in (1, 2))


def test_rule_spans_and_neighbours_become_features() -> None:
    toks = tokenize("call me at 15:00 please")
    marks = span_features(toks, [("time", 8, 16)])
    assert marks[2:4] == [["rule:B-time"], ["rule:I-time"]] and marks[1] == []
    feats = features(toks, None, [("time", 8, 16)])
    assert "rule:B-time" in feats[2] and "-1:rule:B-time" in feats[3]
    assert "1:rule:B-time" in feats[1]


DATA = [
    _ex("play some jazz by Miles Davis", ("jazz", "genre"), ("Miles Davis", "artist")),
    _ex("play rock by Queen", ("rock", "genre"), ("Queen", "artist")),
    _ex("put on blues by B B King", ("blues", "genre"), ("B B King", "artist")),
    _ex("play jazz by Nina Simone", ("jazz", "genre"), ("Nina Simone", "artist")),
    _ex("play rock music tomorrow at 15:00", ("rock", "genre"), ("tomorrow at 15:00", "when")),
    _ex("hello there"),
] * 3


def test_crf_learns_and_survives_pickling() -> None:
    crf = CrfEntityExtractor(CrfConfig(max_iterations=30, gazetteer_folds=2)).fit(
        DATA, rules=RuleExtractor()
    )
    assert crf.trained and crf.fit_cpu_seconds is not None
    assert crf.params["algorithm"] == "lbfgs"  # "auto" on a small job
    found = [(e.entity, e.text) for e in crf.extract("play jazz by Queen")]
    assert found == [("genre", "jazz"), ("artist", "Queen")]
    copy = pickle.loads(pickle.dumps(crf))
    assert [(e.entity, e.text) for e in copy.extract("play jazz by Queen")] == found
    when = [e.text for e in copy.extract("play rock tomorrow at 15:00") if e.entity == "when"]
    assert when == ["tomorrow at 15:00"]


def test_sgd_training_learns_too() -> None:
    crf = CrfEntityExtractor(CrfConfig(algorithm="auto", auto_limit=1, sgd_epochs=30)).fit(DATA)
    assert crf.params["algorithm"] == "l2sgd"
    assert [e.text for e in crf.extract("play jazz by Queen")] == ["jazz", "Queen"]


def test_crf_without_annotations_stays_untrained() -> None:
    crf = CrfEntityExtractor().fit([_ex("hello"), _ex("bye")])
    assert not crf.trained and crf.extract("hello") == []


def test_a_model_pickled_before_the_new_features_still_parses() -> None:
    crf = CrfEntityExtractor(CrfConfig(max_iterations=20, gazetteer_folds=0, rule_spans=False))
    crf.fit(DATA)
    old_state = {"params": {"c1": 0.05}, "_model": crf._model, "_tagger": None}
    old = CrfEntityExtractor.__new__(CrfEntityExtractor)
    old.__setstate__(old_state)
    assert [e.entity for e in old.extract("play jazz by Queen")][:1] == ["genre"]
