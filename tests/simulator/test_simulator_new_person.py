"""A new person of the simulator is a new customer profile: their own name and phone, never
merged into the previous person by sharing the previous person's phone (a shared phone links
accounts). Over the API, both backends, and on the page in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from bots.keys import DATABASE
from storage.models import Customer
from tests.simulator.conftest import Simulator
from tests.simulator.test_simulator_api import new_person

WAIT_MS = 60_000  # generous: a busy machine (this test flaked at 20 s in rehearsals)


async def timeline(simulator: Simulator, person: str) -> dict[str, Any]:
    async with simulator.http.get(
        simulator.base_url + "/simulator/timeline", params={"person": person}
    ) as r:
        assert r.status == 200
        doc: dict[str, Any] = await r.json()
        return doc


async def phone_of(simulator: Simulator, customer_id: int) -> str | None:
    async with simulator.app[DATABASE].session() as s:
        customer = await s.get(Customer, customer_id)
        assert customer is not None
        return customer.phone


@pytest.mark.parametrize("channel", ["telegram", "viber"])
async def test_people_given_no_phone_share_their_own(simulator: Simulator, channel: str) -> None:
    """Two people who share "their phone" without having typed one are two customers."""
    profiles = []
    for person in (new_person(), new_person()):
        sent = await simulator.send(channel, person, action="contact")
        assert sent["webhook_status"] == 200
        await simulator.replies(channel, person, 1)
        (profile,) = (await timeline(simulator, person))["customers"]
        profiles.append(profile["customer_id"])
    assert profiles[0] != profiles[1]
    phones = [await phone_of(simulator, p) for p in profiles]
    assert None not in phones and phones[0] != phones[1]


@pytest.mark.browser
async def test_new_person_on_the_page_is_a_new_profile(page: Page) -> None:
    tab = page.locator("#tab-telegram")
    customers = page.locator("#tab-timeline .customers")
    seen: list[tuple[str, str, str]] = []
    for _ in range(2):
        name = await page.input_value("#person-name")
        phone = await page.input_value("#person-phone")
        await tab.locator("button.share-phone").click()
        await expect(tab.locator(".msg.me")).to_have_text([f"📞 {phone}"])
        await expect(tab.locator(".msg.bot")).to_have_count(1, timeout=WAIT_MS)
        await page.locator('.tab[data-tab="timeline"]').click()
        if seen:  # the previous person's profile until the timeline is read again
            await expect(customers).not_to_contain_text(f"(#{seen[-1][2]})", timeout=WAIT_MS)
        await expect(customers).to_contain_text("One customer profile (#", timeout=WAIT_MS)
        found = re.search(r"#(\d+)", await customers.inner_text())
        assert found is not None
        seen.append((name, phone, found.group(1)))
        await page.click("#new-person")
        await expect(tab).to_be_visible()
        await expect(tab.locator(".msg")).to_have_count(0)
    (name0, phone0, profile0), (name1, phone1, profile1) = seen
    assert name1 != name0 and phone1 != phone0
    assert profile1 != profile0
    assert re.fullmatch(r"\+380\d{9}", phone1)
