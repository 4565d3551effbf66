"""Settings from the environment, as docker compose and shells hand them over."""

from __future__ import annotations

import pytest

from bots.channels.registry import build_channels
from bots.config import Settings


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # docker-compose.yml passes `${OMNIRELAY_VIBER_TOKEN:-}`: an empty value, not a token
    for name in ("VIBER_TOKEN", "TELEGRAM_TOKEN", "INSTAGRAM_APP_SECRET", "REDIS_URL"):
        monkeypatch.setenv(f"OMNIRELAY_{name}", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.viber_token is None and settings.telegram_token is None
    assert settings.instagram_app_secret is None and settings.redis_url is None
    channels = build_channels(settings, mailbox=lambda: None)  # type: ignore[arg-type,return-value]
    assert list(channels) == ["rest"]


def test_set_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIRELAY_VIBER_TOKEN", "abc")
    monkeypatch.setenv("OMNIRELAY_WORKERS", "8")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.viber_token is not None and settings.viber_token.get_secret_value() == "abc"
    assert settings.workers == 8
