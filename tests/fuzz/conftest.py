"""The `api` fixture (the real gateway on either backend) for the JSON API fuzz tests."""

from tests.fuzz._api import api  # noqa: F401 (a fixture, found by pytest by name)
