from __future__ import annotations

import pytest

from nlu import NluModel, NluUnavailable, RasaHttpModel
from tests.fakes.rasa import FakeRasa


async def test_parses_rasa_answer() -> None:
    async with FakeRasa() as rasa, RasaHttpModel(rasa.url + "/", token="s3cret") as client:
        assert isinstance(client, NluModel)
        result = await client.parse("where is my order A1001")
        assert result.intent == "check_order_status"
        assert result.confidence == pytest.approx(0.93)
        assert result.language == "en"
        assert [(e.entity, e.value, e.start, e.end, e.text) for e in result.entities] == [
            ("order_number", "A1001", 18, 23, "A1001")
        ]
        assert result.entities[0].extractor == "DIETClassifier"
        assert result.ranking[0].name == "check_order_status"
        assert rasa.requests == [
            {"body": {"text": "where is my order A1001"}, "query": {"token": "s3cret"}}
        ]
        assert client.info()["url"] == rasa.url


@pytest.mark.parametrize("mode", ["error", "garbage"])
async def test_server_errors_become_unavailable(mode: str) -> None:
    async with FakeRasa(mode) as rasa, RasaHttpModel(rasa.url) as client:
        with pytest.raises(NluUnavailable):
            await client.parse("hi")


async def test_timeout_becomes_unavailable() -> None:
    async with FakeRasa("hang") as rasa, RasaHttpModel(rasa.url, timeout=0.2) as client:
        with pytest.raises(NluUnavailable, match="unavailable"):
            await client.parse("hi")


async def test_connection_refused_becomes_unavailable() -> None:
    async with FakeRasa() as rasa:
        url = rasa.url
    async with RasaHttpModel(url) as client:
        with pytest.raises(NluUnavailable):
            await client.parse("hi")
