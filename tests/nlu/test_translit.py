"""Ukrainian typed in Latin letters is also read in Cyrillic (`nlu.translit`): the trial's
"koly vy pratsiuiete" had been read as a request to erase everything (F1), "vidminyty vizyt"
as an opt-out; English, order numbers and e-mails are left as typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.model import BuiltinModel, load_model
from nlu.translit import cyrillic_reading, to_cyrillic, worth_reading_in_cyrillic


def test_latin_words_are_spelled_in_cyrillic_and_codes_are_kept() -> None:
    assert to_cyrillic("koly vy pratsiuiete?") == "коли ви працюєте?"
    assert to_cyrillic("skasuvaty zapys") == "скасувати запис"
    assert to_cyrillic("shcho z zamovlenniam A1234") == "що з замовленням A1234"
    assert to_cyrillic("moia poshta olena@example.com") == "моя пошта olena@example.com"
    assert to_cyrillic("dyv. https://x.ua/map") == "див. https://x.ua/map"
    assert to_cyrillic("'zavtra'") == "'завтра'"  # quotes stay quotes


def test_a_letter_with_two_readings_is_read_as_the_one_that_makes_a_known_word() -> None:
    """Trial 4 (G12): "skasuyte miy zapys" had been spelled "скасуите міи запис", two words the
    model did not know, and was not understood ("y" after a vowel is "й", "i" also "и")."""
    known = {
        "скасуйте", "мій", "запис", "будь", "ласка", "хочу", "добрий", "мої", "сім'я", "день",
    }.__contains__  # fmt: skip
    assert to_cyrillic("skasuyte miy zapys bud laska", known) == "скасуйте мій запис будь ласка"
    assert to_cyrillic("hochu", known) == "хочу"
    assert to_cyrillic("dobryi den", known) == "добрий день"
    assert to_cyrillic("moi", known) == "мої"
    assert to_cyrillic("sim'ia", known) == "сім'я"
    # no known word within two letters: the plain spelling; and none without a vocabulary
    assert to_cyrillic("hope", known) == "гопе"
    assert to_cyrillic("skasuyte miy") == "скасуите міи"
    assert cyrillic_reading("skasuyte miy zapys", known) == "скасуйте мій запис"


def test_only_latin_text_that_is_not_english_is_worth_a_second_reading() -> None:
    assert worth_reading_in_cyrillic("koly vy pratsiuiete")
    assert not worth_reading_in_cyrillic("when are you open?")
    assert not worth_reading_in_cyrillic("коли ви працюєте")
    assert not worth_reading_in_cyrillic("A1234")
    english = {"block", "messages"}.__contains__
    assert not worth_reading_in_cyrillic("block messages", english)
    # a transliterated word the vocabulary holds does not make a message English
    assert worth_reading_in_cyrillic("skasuvaty zapys", {"skasuvaty", "zapys"}.__contains__)


def test_a_reading_that_makes_no_known_words_is_not_taken() -> None:
    known = {"коли", "ви", "працюєте"}.__contains__
    assert cyrillic_reading("koly vy pratsiuiete", known) == "коли ви працюєте"
    assert cyrillic_reading("Hope", known) is None  # "гопе": a name, not Ukrainian


@pytest.fixture(scope="module")
def bundled(nlu_model_path: Path) -> BuiltinModel:
    return load_model(nlu_model_path)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("koly vy pratsiuiete", "ask_opening_hours"),
        ("vidminyty vizyt", "cancel_appointment"),
        ("skilky koshtuie manikiur", "ask_prices"),
        ("de moje zamovlennia", "check_order_status"),
        ("skasuyte miy zapys bud laska", "cancel_appointment"),  # trial 4, G12
        ("skasuyte miy zapys", "cancel_appointment"),
        # English stays English
        ("block messages", "stop"),
        ("cancel my booking", "cancel_appointment"),
        ("where is my parcel", "check_order_status"),
    ],
)
async def test_ukrainian_in_latin_letters_is_understood(
    bundled: BuiltinModel, text: str, intent: str
) -> None:
    result = await bundled.parse(text)
    assert (result.intent, result.text) == (intent, text)
    assert bundled.parse_sync(text).intent == intent
    assert bundled.parse_batch([text])[0].intent == intent


def test_entities_come_from_what_was_typed(bundled: BuiltinModel) -> None:
    result = bundled.parse_sync("de moje zamovlennia A1234")
    assert result.intent == "check_order_status"
    assert [e.value for e in result.entities if e.entity == "order_number"] == ["A1234"]


def test_a_name_in_latin_letters_is_read_as_typed(bundled: BuiltinModel) -> None:
    """ "Hope" spelled "гопе" had been read as asking for a person at a name step."""
    proba, _ = bundled.classifier.score_one("Hope")
    assert bundled.parse_sync("Hope").ranking[0].name == bundled.classifier.labels[proba.argmax()]
