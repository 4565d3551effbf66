"""Reading a process's `/metrics` the way Prometheus does: its text format, parsed by
prometheus_client's own parser."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


class Samples:
    """One scrape: every sample's value by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: list[tuple[str, Mapping[str, str], float]] = [
            (s.name, s.labels, s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples called ``name`` whose labels include ``labels`` (0: none)."""
        return sum(
            v
            for n, have, v in self.samples
            if n == name and all(have.get(k) == want for k, want in labels.items())
        )

    def labels(self, name: str, label: str) -> set[str]:
        """The values ``label`` takes among the samples called ``name``."""
        return {have[label] for n, have, _ in self.samples if n == name and label in have}


async def scrape(client: Any, url: str = "/metrics") -> Samples:
    """GET ``url`` with ``client`` (an aiohttp test client or session) and parse the answer."""
    async with client.get(url) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "text/plain"
        return Samples(await resp.text())
