from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlu import BuiltinModel, ModelLoadError, NluModel, load_model, train_model
from nlu.modelfile import MAGIC
from nlu.types import FALLBACK_INTENT

from .conftest import NOW, TZ


def test_parse_intent_entities_language(tiny_model: BuiltinModel) -> None:
    result = tiny_model.parse_sync("де моє замовлення A1001", now=NOW, tz=TZ)
    assert result.intent == "check_order_status"
    assert result.language == "uk"
    assert [(e.entity, e.value) for e in result.entities] == [("order_number", "A1001")]
    assert abs(sum(s.confidence for s in result.ranking) - 1.0) < 1e-6
    assert result.ranking[0].name == result.intent
    assert result.confidence == result.ranking[0].confidence

    booking = tiny_model.parse_sync("запишіть на стрижку завтра о 15:00", now=NOW, tz=TZ)
    assert booking.intent == "book_appointment"
    values = {e.entity: e.value for e in booking.entities}
    assert values == {"service": "haircut", "time": "2026-11-21T15:00:00+02:00"}


def test_to_dict_matches_rasa_shape(tiny_model: BuiltinModel) -> None:
    d = tiny_model.parse_sync("hello there", now=NOW).to_dict()
    assert set(d) == {"text", "intent", "intent_ranking", "entities", "language"}
    assert d["intent"]["name"] == "greet"
    assert set(d["intent_ranking"][0]) == {"name", "confidence"}
    json.dumps(d)


async def test_async_parse_and_protocol(tiny_model: BuiltinModel) -> None:
    assert isinstance(tiny_model, NluModel)
    result = await tiny_model.parse("hi", language="en")
    assert result.intent == "greet"
    assert tiny_model.info()["labels"] == [
        "book_appointment", "check_order_status", "greet", "out_of_scope",
    ]  # fmt: skip


def test_empty_text_falls_back(tiny_model: BuiltinModel) -> None:
    assert tiny_model.parse_sync("   ").intent == FALLBACK_INTENT


def test_batch_equals_single(tiny_model: BuiltinModel) -> None:
    texts = ["hi", "track my order B2002", "яка погода"]
    batch = tiny_model.parse_batch(texts, now=NOW, tz=TZ)
    assert batch == [tiny_model.parse_sync(t, now=NOW, tz=TZ) for t in texts]


def test_info_records_hash_versions_date(tiny_model: BuiltinModel) -> None:
    info = tiny_model.info()
    assert len(info["data_hash"]) == 64
    assert {"scikit-learn", "sklearn-crfsuite", "numpy"} <= set(info["versions"])
    assert info["trained_at"].startswith("20")
    assert info["entities"] == ["order_number", "service", "time"]


def test_same_data_same_hash(tiny_data: Path, tiny_model: BuiltinModel) -> None:
    assert train_model([tiny_data]).info()["data_hash"] == tiny_model.info()["data_hash"]


def test_save_load_roundtrip(tiny_model: BuiltinModel, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "m.model"
    tiny_model.save(path)
    again = load_model(path)
    text = "status of order C3003"
    assert again.parse_sync(text, now=NOW) == tiny_model.parse_sync(text, now=NOW)


def _corrupt(src: Path, dst: Path, fn: object) -> Path:
    raw = src.read_bytes()
    dst.write_bytes(fn(raw))  # type: ignore[operator]
    return dst


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw[:-100], "checksum"),
        (lambda raw: raw[:-10] + bytes(10), "checksum"),
        (lambda raw: b"\x80\x04garbage pickle", "bad magic"),
        (lambda raw: MAGIC + b"{not json\n" + raw, "corrupted model header"),
        (lambda raw: raw.replace(b'"format_version": 1', b'"format_version": 99'), "format 99"),
    ],
)
def test_corrupted_files_are_refused(
    tiny_model_path: Path, tmp_path: Path, mutate: object, message: str
) -> None:
    bad = _corrupt(tiny_model_path, tmp_path / "bad.model", mutate)
    with pytest.raises(ModelLoadError, match=message):
        load_model(bad)


def test_incompatible_library_version_is_refused(tiny_model_path: Path, tmp_path: Path) -> None:
    raw = tiny_model_path.read_bytes()
    head_end = raw.index(b"\n", len(MAGIC))
    header = json.loads(raw[len(MAGIC) : head_end])
    header["versions"]["numpy"] = "0.20.0"
    bad = tmp_path / "old.model"
    bad.write_bytes(MAGIC + json.dumps(header).encode() + raw[head_end:])
    with pytest.raises(ModelLoadError, match=r"numpy 0\.20\.0.*retrain"):
        load_model(bad)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model file"):
        load_model(tmp_path / "nope.model")


def test_out_of_scope_or_fallback_for_nonsense(tiny_model: BuiltinModel) -> None:
    result = tiny_model.parse_sync("what is the weather like")
    assert result.intent in ("out_of_scope", FALLBACK_INTENT)


def test_own_features_match_scikit_learn(tiny_model: BuiltinModel) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from nlu.classifier import normalize

    clf = tiny_model.classifier
    texts = ["Де  моє замовлення A1001?", "a", "hello there, i'd like a haircut!!", ""]
    word = TfidfVectorizer(preprocessor=normalize, ngram_range=clf.config.word_ngrams,
                           token_pattern=r"(?u)\b\w+\b").build_analyzer()  # fmt: skip
    char = TfidfVectorizer(preprocessor=normalize, analyzer="char_wb",
                           ngram_range=clf.config.char_ngrams).build_analyzer()  # fmt: skip
    for text in texts:
        assert sorted(clf.word_features(text)) == sorted(word(text))
        assert sorted(clf.char_features(text)) == sorted(char(text))


def test_loading_does_not_need_scikit_learn(tiny_model_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from nlu import load_model; m = load_model(sys.argv[1]); "
        "print(m.parse_sync('hi').intent, 'sklearn' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tiny_model_path)],
        capture_output=True, text=True, cwd=root, timeout=60, check=True,
    )  # fmt: skip
    assert proc.stdout.split() == ["greet", "False"]


def test_one_intent_is_a_data_error(tmp_path: Path) -> None:
    from nlu import DataError

    path = tmp_path / "one.yml"
    path.write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n")
    with pytest.raises(DataError, match="at least two intents"):
        train_model([path])
