"""The `faults` marker: `pytest -m faults` runs the small fault cases alone."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: small fault-campaign cases (private Redis/PostgreSQL, processes)"
    )
