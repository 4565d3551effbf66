from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nlu.model import BuiltinModel, train_model

TINY = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello there
    - hey
    - привіт
    - добрий день
    - вітаю
- intent: check_order_status
  examples: |
    - where is my order [A1001](order_number)
    - status of order [B2002](order_number)
    - track my order
    - де моє замовлення [A1234](order_number)
    - статус замовлення
    - замовлення [C3003](order_number) де
- intent: book_appointment
  examples: |
    - book a [haircut](service)
    - i want to book a [manicure](service) [tomorrow](time)
    - make an appointment
    - запишіть на [стрижку](service)
    - хочу записатись на [манікюр](service)
    - запис на [завтра](time)
- intent: out_of_scope
  examples: |
    - what is the weather
    - tell me a joke
    - яка погода
    - розкажи анекдот
    - who won the match
    - скільки тобі років
- synonym: haircut
  examples: |
    - стрижку
    - стрижка
"""

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Europe/Kyiv"))  # a Friday
TZ = "Europe/Kyiv"


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    path = tmp_path / "nlu.yml"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    data = folder / "nlu.yml"
    data.write_text(TINY, encoding="utf-8")
    out = folder / "nlu.model"
    train_model([data], out)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path: Path) -> BuiltinModel:
    from nlu.model import load_model

    return load_model(tiny_model_path)
