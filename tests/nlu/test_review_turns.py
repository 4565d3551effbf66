"""The NLU review list through the real pipeline (REST channel, both backends): answers to the
dialogue's questions for a slot stay out of it, and what goes in carries no phone, e-mail or
known name of the customer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bots.worker.review import NAME_MASK, without_personal_data
from tests.bots.conftest import (  # noqa: F401 (fixtures)
    Service,
    database_url_for,
    fake_instagram,
    fake_telegram,
    fake_viber,
    make_settings,
    mode,
    pg_e2e_url,
    service,
)

GIBBERISH = "zzqx blorp vrummel marta"


def review_lines(svc: Service) -> list[dict[str, Any]]:
    path = svc.settings.nlu_review_log
    assert path is not None
    if not Path(path).exists():
        return []
    return [json.loads(row) for row in Path(path).read_text("utf-8").splitlines() if row]


async def say(svc: Service, sender: str, text: str) -> str:
    response = await svc.rest(sender, text)
    assert response.status == 200, await response.text()
    body = await response.json()
    return "\n".join(r["text"] for r in body["replies"])


async def test_slot_answers_stay_out_and_the_rest_is_masked(
    service: Service,  # noqa: F811 (the imported fixture, requested)
) -> None:
    sender = "review-marta"
    assert "name" in (await say(service, sender, "book a cleaning tomorrow at 3pm")).lower()
    assert "phone" in (await say(service, sender, "Marta")).lower()  # a fallback for the model
    assert "check your booking" in (await say(service, sender, "+380501234567")).lower()
    assert review_lines(service) == []  # the name and the phone were answers, not failures

    # at a yes/no question the dialogue waits for no value: a message it cannot read is kept
    await say(service, sender, GIBBERISH)
    lines = review_lines(service)
    assert len(lines) == 1, lines
    assert lines[0]["text"] == f"zzqx blorp vrummel {NAME_MASK}"  # the name she gave, any case


def test_masking_of_names_phones_and_emails() -> None:
    text = "ОЛЕНА тут, Petrenko: 067 111 22 33, mail olena@example.com; Olenka stays"
    masked = without_personal_data(text, ["Петренко", "Olena", "Олена", "Petrenko"])
    assert masked.startswith(f"{NAME_MASK} тут, {NAME_MASK}: ***33, mail o***@example.com")
    assert masked.endswith("Olenka stays")  # whole words only
