"""Issue 17: names the demo data and the model hold per language reach the customer in their
language. A Ukrainian booking confirmation named "Dr. Olena Kovalenko"; staff now carry
``names`` ({"uk": ..., "en": ...}), a plain name still works in every language, and a business
system over HTTP may send either."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from bots.demo import DEMO_ORDERS, DEMO_STAFF, seed_demo
from bots.flows.backends import SqlBookingBackend
from bots.flows.http_backends import _booking
from bots.flows.names import local_name
from storage.db import Database
from storage.repositories import OrderRepository, StaffRepository
from tests.conversations.inline import talk

NOW = dt.datetime(2026, 3, 10, 7, 0, tzinfo=dt.UTC)
KNOWN = {"name": "Iryna Koval", "phone": "+380931112233"}
BOOKED = {
    "uk": (
        "запишіть на консультацію завтра об 11",
        "Так, записати",
        "Олена Коваленко",
    ),
    "en": ("book a dental consultation tomorrow at 11am", "Yes, book it", "Dr. Olena Kovalenko"),
}


@pytest.mark.parametrize("language", ["uk", "en"])
async def test_the_confirmation_names_staff_in_the_customers_language(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, language: str
) -> None:
    say, yes, staff = BOOKED[language]
    conversation = await talk(
        request,
        tmp_path,
        nlu_model_path,
        [{"say": say, "state": {"step": "confirm"}}, {"tap": yes, "bot": staff}],
        customer={**KNOWN, "language": language},
    )
    if language == "uk":  # nothing in Latin letters but the booking reference
        text = conversation.last["customer"].text
        assert re.findall(r"[A-Za-z]+", re.sub(r"BK-[A-Z0-9]+", "", text)) == [], text


KETTLE = {"name": {"en": "Kettle", "uk": "Чайник"}, "qty": 1}
ASKED = {"uk": ("де моє замовлення B2001?", "Чайник"), "en": ("where is my order B2001?", "Kettle")}


@pytest.mark.parametrize("language", ["uk", "en"])
async def test_order_items_are_named_in_the_customers_language(
    request: pytest.FixtureRequest, tmp_path: Path, nlu_model_path: Path, language: str
) -> None:
    say, item = ASKED[language]
    other = "Kettle" if language == "uk" else "Чайник"
    order = {"number": "B2001", "status": "shipped", "items": [KETTLE]}
    await talk(
        request,
        tmp_path,
        nlu_model_path,
        [{"say": say, "bot": f"{item} × 1", "bot_not": [other, "{"]}],
        customer={**KNOWN, "language": language, "orders": [order]},
    )


async def test_names_per_language_are_seeded_and_shown(database_url: str) -> None:
    db = Database(database_url)
    try:
        await _seeded_and_shown(db)
    finally:
        await db.dispose()


async def _seeded_and_shown(db: Database) -> None:
    async with db.transaction() as s:  # seeded before names per language existed
        _, skills, hours = DEMO_STAFF[0]
        await StaffRepository(s).add("Dr. Olena Kovalenko", skills=skills, working_hours=hours)
        plain = await StaffRepository(s).add(
            "Taras Plain", skills=["facial"], working_hours={"wed": [["09:00", "18:00"]]}
        )
        number, status, items, *_ = DEMO_ORDERS[0]
        await OrderRepository(s).add(number, status=status, items=items, now=NOW)
    await seed_demo(db, now=NOW)
    async with db.session() as s:
        order = await OrderRepository(s).by_number(number)
        olena = await StaffRepository(s).by_name("Dr. Olena Kovalenko")
    assert olena is not None and olena.names == DEMO_STAFF[0][0]
    assert order is not None and order.items == [
        {"name": {"en": "Coffee grinder", "uk": "Кавомолка"}, "qty": 1}
    ]
    backend = SqlBookingBackend(db, clock=lambda: NOW)
    booking = await backend.book(
        "facial", dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC), staff_id=plain.id
    )
    assert booking.staff_names == {}  # a plain name is the name in every language
    assert local_name(booking.staff_name, booking.staff_names, "uk") == "Taras Plain"
    named = await backend.book(
        "consultation", dt.datetime(2026, 3, 11, 9, 0, tzinfo=dt.UTC), staff_id=olena.id
    )
    assert local_name(named.staff_name, named.staff_names, "uk") == "Олена Коваленко"
    assert local_name(named.staff_name, named.staff_names, "en") == "Dr. Olena Kovalenko"


@pytest.mark.parametrize(
    ("sent", "uk", "en"),
    [
        ("Maria Bondar", "Maria Bondar", "Maria Bondar"),
        ({"uk": "Марія Бондар", "en": "Maria Bondar"}, "Марія Бондар", "Maria Bondar"),
        ({"uk": "Марія Бондар"}, "Марія Бондар", "Марія Бондар"),
    ],
)
def test_a_business_system_sends_a_name_or_names(sent: object, uk: str, en: str) -> None:
    booking = _booking(
        {
            "reference": "BK-ABC123",
            "service_code": "facial",
            "service_name_uk": "Чистка обличчя",
            "service_name_en": "Facial cleansing",
            "staff_id": 4,
            "staff_name": sent,
            "starts_at": "2026-03-11T10:00:00+00:00",
            "ends_at": "2026-03-11T11:15:00+00:00",
            "status": "confirmed",
        }
    )
    assert local_name(booking.staff_name, booking.staff_names, "uk") == uk
    assert local_name(booking.staff_name, booking.staff_names, "en") == en
