"""Issue 17: every apostrophe in everyday use reads as the Ukrainian one, in every extractor.

"в пʼятницю о 12" with U+02BC (the standard Ukrainian apostrophe) was read as today at 12:
the date grammar knew only ' and ’. The text is now normalised once (`nlu.normalise`) before
the classifier, the CRF, the rule extractors and the dialogue's own readers (the name step)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nlu import BuiltinModel, load_model
from nlu.normalise import normalise_text
from tests.conversations.inline import talk

# U+02BC, U+2019, U+0027, U+2018, backtick, U+00B4, and the primes some keyboards give
VARIANTS = ["\u02bc", "\u2019", "'", "\u2018", "`", "\u00b4", "\u02b9", "\u2032"]
IDS = [f"U+{ord(c):04X}" for c in VARIANTS]
NOW = dt.datetime(2026, 3, 10, 7, 0, tzinfo=dt.UTC)  # Tuesday 10.03, 09:00 in Kyiv


@pytest.fixture(scope="module")
def model(nlu_model_path: Path) -> BuiltinModel:
    return load_model(nlu_model_path)


@pytest.mark.parametrize("apostrophe", VARIANTS, ids=IDS)
def test_normalised_to_one_apostrophe_same_length(apostrophe: str) -> None:
    text = f"п{apostrophe}ятниця\u00a0о\u202f12"
    assert normalise_text(text) == "п'ятниця о 12"
    assert len(normalise_text(text)) == len(text)  # entity offsets index the original too
    assert normalise_text(normalise_text(text)) == normalise_text(text)


@pytest.mark.parametrize("apostrophe", VARIANTS, ids=IDS)
def test_date_read_with_every_apostrophe(model: BuiltinModel, apostrophe: str) -> None:
    parse = model.parse_sync(f"в п{apostrophe}ятницю о 12", now=NOW, tz="Europe/Kyiv")
    assert parse.entity_values("time") == ["2026-03-13T12:00:00+02:00"]


@pytest.mark.parametrize("apostrophe", VARIANTS, ids=IDS)
def test_intent_and_entities_same_with_every_apostrophe(
    model: BuiltinModel, apostrophe: str
) -> None:
    def seen(text: str) -> tuple[str, list[tuple[str, str]]]:
        parse = model.parse_sync(text, now=NOW, tz="Europe/Kyiv")
        return parse.intent, [(e.entity, str(e.value)) for e in parse.entities]

    plain = seen("запишіть мене на п'ятницю, будь ласка, ім'я Мар'яна")
    assert seen(f"запишіть мене на п{apostrophe}ятницю, будь ласка, ім{apostrophe}я "
                f"Мар{apostrophe}яна") == plain  # fmt: skip
    batch = model.parse_batch([f"в п{apostrophe}ятницю о 12"], now=NOW, tz="Europe/Kyiv")
    assert batch[0].entity_values("time") == ["2026-03-13T12:00:00+02:00"]


@pytest.mark.parametrize("apostrophe", VARIANTS, ids=IDS)
async def test_booking_reads_day_and_name_with_every_apostrophe(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, apostrophe: str
) -> None:
    a = apostrophe
    await talk(
        request,
        tmp_path,
        nlu_model_path,
        [
            {
                "say": f"запишіть на чистку зубів в п{a}ятницю о 12",
                "state": {"flow": "booking", "step": "name"},
            },
            {"state": {"slots": {"service": "cleaning", "date": "2026-03-13", "time": "12:00"}}},
            {
                "say": f"Мар{a}яна Коваль",
                "state": {"step": "phone", "slots": {"name": "Мар'яна Коваль"}},
            },
        ],
        customer={"language": "uk"},
    )
