from __future__ import annotations

from pathlib import Path

import pytest

from nlu.errors import DataError
from nlu.training_data import file_language, load_data, parse_annotated

REAL_WORLD = """version: "3.1"

nlu:
- intent: greet
  metadata:
    sentiment: neutral
  examples: |
    - hey
    - good morning
- intent: inform
  examples: |
    - my account is [1234567891](account_number)
    - from [Berlin]{"entity": "city", "role": "departure"} to [Berlin]{"entity":"city","role":"destination"}
    - a [large]{"entity": "size", "group": "1"} [pizza]{"entity": "food", "group": "1"}
    - I'd like [NYC](city:New York City)
    - show me [chinese]{"entity": "cuisine", "value": "chinese"} food
- intent: chitchat/ask_name
  examples:
  - text: |
      what's your name
    metadata:
      sentiment: neutral
  - text: who are you
- synonym: credit
  examples: |
    - credit card account
    - credit account
- regex: account_number
  examples: |
    - \\d{10,12}
- lookup: banks
  examples: |
    - JPMC
    - Comerica
- lookup: cities
  examples: cities.txt
"""  # noqa: E501


def test_real_rasa_file_loads(tmp_path: Path) -> None:
    (tmp_path / "cities.txt").write_text("Kyiv\nLviv\n\nOdesa\n", encoding="utf-8")
    path = tmp_path / "nlu.yml"
    path.write_text(REAL_WORLD, encoding="utf-8")
    data = load_data([tmp_path])
    assert data.intents == ["chitchat/ask_name", "greet", "inform"]
    by_text = {e.text: e for e in data.examples}
    trip = by_text["from Berlin to Berlin"]
    assert [(s.entity, s.role, s.start, s.end) for s in trip.entities] == [
        ("city", "departure", 5, 11),
        ("city", "destination", 15, 21),
    ]
    pizza = by_text["a large pizza"]
    assert [(s.entity, s.group) for s in pizza.entities] == [("size", "1"), ("food", "1")]
    nyc = by_text["I'd like NYC"].entities[0]
    assert (nyc.entity, nyc.value, nyc.text) == ("city", "New York City", "NYC")
    assert data.synonyms["nyc"] == "New York City"
    assert data.synonyms["credit account"] == "credit"
    assert data.regexes == {"account_number": [r"\d{10,12}"]}
    assert data.lookups["banks"] == ["JPMC", "Comerica"]
    assert data.lookups["cities"] == ["Kyiv", "Lviv", "Odesa"]
    assert "what's your name" in by_text
    assert by_text["hey"].line == 8
    assert by_text["my account is 1234567891"].line == 12


def test_parse_annotated_offsets() -> None:
    text, spans = parse_annotated("де [A1001](order_number) і [A1002](order_number)?")
    assert text == "де A1001 і A1002?"
    assert [(text[s.start : s.end], s.entity) for s in spans] == [
        ("A1001", "order_number"),
        ("A1002", "order_number"),
    ]


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("- intent: greet\n  examples: |\n    - hi\n    - [hello(greeting)\n", 6, "unclosed"),
        ("- intent: greet\n  examples: |\n    - hi\n    - [hello](greeting\n", 6, "malformed"),
        ('- intent: greet\n  examples: |\n    - [hi]{"value": 1}\n', 5, '"entity"'),
        ("- intent: greet\n  examples: |\n    - [hi]{entity: x}\n", 5, "invalid entity JSON"),
        ("- intent: greet\n  examples: |\n", 3, "no examples"),
        ("- intnt: greet\n  examples: |\n    - hi\n", 3, "unknown block"),
        ("- intent: greet\n  examples: |\n    - hi\n  - bad: [\n", 6, "invalid YAML"),
        ("- intent: greet\n  examples: |\n    hi\n", 5, "must start with"),
        ("- regex: x\n  examples: |\n    - (unclosed\n", 5, "invalid regex"),
        ("- intent:\n  examples: |\n    - hi\n", 3, "needs a name"),
    ],
)
def test_broken_data_names_file_and_line(
    tmp_path: Path, body: str, line: int, fragment: str
) -> None:
    path = tmp_path / "broken.yml"
    path.write_text('version: "3.1"\nnlu:\n' + body, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_data([path])
    assert err.value.file == str(path)
    assert err.value.line == line, str(err.value)
    assert fragment in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_unknown_top_level_key_and_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text("version: '3.1'\nnlux:\n  - intent: a\n", encoding="utf-8")
    with pytest.raises(DataError, match="unknown top-level key 'nlux'"):
        load_data([path])
    with pytest.raises(DataError, match="no such file"):
        load_data([tmp_path / "missing.yml"])


def test_folder_skips_domain_and_stories(tmp_path: Path) -> None:
    (tmp_path / "domain.yml").write_text("version: '3.1'\nintents:\n  - greet\n", encoding="utf-8")
    (tmp_path / "nlu.yml").write_text(
        "version: '3.1'\nnlu:\n- intent: greet\n  examples: |\n    - hi\n", encoding="utf-8"
    )
    assert [e.text for e in load_data([tmp_path]).examples] == ["hi"]


def test_jsonl_and_language_tags(tmp_path: Path) -> None:
    path = tmp_path / "data.en.jsonl"
    path.write_text(
        '{"text": "hi", "intent": "greet"}\n'
        '{"text": "order A1", "intent": "o", "entities": '
        '[{"entity": "n", "start": 6, "end": 8}]}\n',
        encoding="utf-8",
    )
    data = load_data([path])
    assert data.examples[1].entities[0].text == "A1"
    assert data.examples[0].language == "en"
    assert file_language("faq.uk.yml") == "uk"
    assert file_language("data/uk/nlu.yml") == "uk"
    assert file_language("nlu.yml") is None
    path.write_text('{"text": "hi"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"data\.en\.jsonl:1: bad JSONL"):
        load_data([path])
