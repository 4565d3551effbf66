"""The end-to-end fixtures of tests/bots/conftest.py (the real app on both backends, the
platform fakes), shared with the gateway's abuse-limit tests."""

from tests.bots.conftest import (  # noqa: F401 (fixtures, found by pytest by name)
    database_url_for,
    fake_instagram,
    fake_telegram,
    fake_viber,
    make_settings,
    mode,
    pg_e2e_url,
)
