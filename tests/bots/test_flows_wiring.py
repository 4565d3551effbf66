"""How the flows are wired: HTTP backends picked from settings, the share-phone request, the
pinned clock, the business profile, and the small readers the booking flow relies on."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bots.config import Settings
from bots.flows.backends import ServiceView
from bots.flows.booking import read_name
from bots.flows.business import BusinessProfile, match_services
from bots.flows.clock import Clock
from bots.keys import DATABASE
from bots.messages import decode_outbound
from storage.repositories.messages import MessageRepository
from tests.conversations.runner import FROZEN_NOW, running_app
from tests.fakes.business import FakeBusiness

KYIV = dt.timezone(dt.timedelta(hours=2))
TOMORROW_NOON = dt.datetime(2026, 3, 11, 12, 0, tzinfo=KYIV)


async def _say(client: Any, sender: str, text: str) -> str:
    resp = await client.post("/webhooks/rest", json={"sender": sender, "text": text})
    assert resp.status == 200, await resp.text()
    return "\n".join(r["text"] for r in (await resp.json())["replies"])


async def test_booking_and_orders_over_the_business_http_api(
    make_settings: Callable[..., Settings],
) -> None:
    async with FakeBusiness(token="biz-token", times={"cleaning": [TOMORROW_NOON]}) as biz:
        biz.orders["Z1234"] = {
            "number": "Z1234", "status": "shipped", "items": [{"name": "Kettle", "qty": 1}],
            "eta": "2026-03-12T12:00:00+02:00", "tracking_number": "TRACK-77",
            "total": "1899.00", "customer_id": None, "status_history": [],
        }  # fmt: skip
        settings = make_settings(
            clock_start=FROZEN_NOW,
            booking_api_url=biz.base_url,
            orders_api_url=biz.base_url,
            business_api_token="biz-token",
        )
        async with running_app(settings) as client:
            sender = f"http-{uuid.uuid4().hex[:8]}"
            assert "What name" in await _say(client, sender, "book a cleaning tomorrow at 12:00")
            assert "phone" in await _say(client, sender, "Olena Petrenko")
            summary = await _say(client, sender, "+380501234567")
            assert "1200 UAH" in summary  # the price the business system reports
            done = await _say(client, sender, "yes")
            assert "EXT-0001" in done
            order = await _say(client, sender, "status of order Z1234 please")
            # read from the business system; the order is nobody's and a typed phone proves
            # nothing, so its status is told without the tracking number (README: "What an
            # unverified customer sees")
            assert "on its way" in order and "12.03.2026" in order and "TRACK-77" not in order
    booked = biz.bookings["EXT-0001"]
    assert booked["name"] == "Olena Petrenko" and booked["phone"] == "+380501234567"
    assert any("/orders/Z1234" in path for _, path, _ in biz.calls)


async def test_the_phone_question_asks_for_the_share_contact_button(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_app(make_settings(clock_start=FROZEN_NOW)) as client:
        sender = f"phone-{uuid.uuid4().hex[:8]}"
        await _say(client, sender, "book a cleaning tomorrow at 3pm")
        resp = await client.post(
            "/webhooks/rest", json={"sender": sender, "text": "Olena", "message_id": "m-name"}
        )
        assert resp.status == 200
        async with client.app[DATABASE].session() as s:
            repo = MessageRepository(s)
            inbound = await repo.find_inbound("rest", "m-name")
            assert inbound is not None
            replies = [decode_outbound(r.body) for r in await repo.replies_to(inbound.id)]
    assert [r.request_phone for r in replies] == [True]
    assert "phone" in replies[0].text


def test_clock_starts_where_pinned_and_advances() -> None:
    clock = Clock(FROZEN_NOW)
    first = clock()
    assert dt.timedelta(0) <= first - FROZEN_NOW < dt.timedelta(seconds=5)
    clock.advance(dt.timedelta(hours=2))
    assert clock() - first >= dt.timedelta(hours=2)
    with pytest.raises(ValueError, match="timezone-aware"):
        Clock(dt.datetime(2026, 1, 1))


def test_business_profile_from_a_file(tmp_path: Path) -> None:
    demo = BusinessProfile.load()
    assert demo.hours["mon"] == "08:00-20:00" and "sun" not in demo.hours
    path = tmp_path / "biz.yml"
    path.write_text('name: "Shop"\naddress: {uk: "Київ", en: "Kyiv"}\nhours: {mon: "10-18"}\n')
    shop = BusinessProfile.load(path)
    assert shop.name == {"uk": "Shop", "en": "Shop"} and shop.address["en"] == "Kyiv"
    path.write_text("hours: {someday: '10-18'}\n")
    with pytest.raises(ValueError, match="unknown weekdays"):
        BusinessProfile.load(path)


SERVICES = [
    ServiceView(
        "cleaning", "Професійна чистка зубів", "Professional teeth cleaning", 60, Decimal(1)
    ),
    ServiceView("consultation", "Консультація стоматолога", "Dentist consultation", 30, Decimal(1)),
    ServiceView("whitening", "Відбілювання зубів", "Teeth whitening", 90, Decimal(1)),
    ServiceView("facial", "Чистка обличчя", "Facial cleansing", 75, Decimal(1)),
]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("book a cleaning tomorrow", ["cleaning"]),
        ("teeth whitening please", ["whitening"]),
        ("запишіть на чистку зубів", ["cleaning"]),
        ("хочу на чистку", ["cleaning", "facial"]),  # ambiguous: the flow asks which
        ("чистку обличчя", ["facial"]),
        ("консультацію стоматолога", ["consultation"]),
        ("відбілити зуби", ["whitening"]),
        ("сколько стоит отбеливание", []),  # "стоит" (costs) is no "стоматолога" (trial T22)
        ("where are you", []),
        (None, []),
    ],
)
def test_services_matched_by_their_names(text: str | None, codes: list[str]) -> None:
    assert [s.code for s in match_services(text, SERVICES)] == codes


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Olena Petrenko", "Olena Petrenko"),
        ("my name is john smith", "John Smith"),
        ("мене звати Тарас", "Тарас"),
        ("Мар'яна", "Мар'яна"),
        ("+380501234567", None),
        ("at 15:00", None),
        ("", None),
    ],
)
def test_names_read_from_a_message(text: str, name: str | None) -> None:
    assert read_name(text) == name
