"""One settings object, read from the environment (and `.env`) in `main()` or a test fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of omnirelay. Names are `OMNIRELAY_<FIELD>` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="OMNIRELAY_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite+aiosqlite:///./omnirelay.db"
    redis_url: str | None = None
    redis_prefix: str = "omnirelay"

    nlu_backend: Literal["builtin", "rasa"] = "builtin"
    nlu_model: Path = Path("./models/nlu.model")
    rasa_url: str | None = None
    nlu_fallback_threshold: float | None = None  # None: the threshold stored in the model
    nlu_review_log: Path | None = Path("./models/review.jsonl")

    telegram_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_mode: Literal["webhook", "polling"] = "webhook"

    viber_token: SecretStr | None = None
    viber_bot_name: str = "omnirelay"
    viber_api_base: str = "https://chatapi.viber.com/pa"

    instagram_app_secret: SecretStr | None = None
    instagram_verify_token: SecretStr | None = None
    instagram_access_token: SecretStr | None = None
    instagram_account_id: str | None = None
    instagram_api_base: str = "https://graph.instagram.com/v21.0"

    public_url: str | None = None
    rest_token: SecretStr | None = None
    admin_token: SecretStr | None = None

    # processing
    workers: int = Field(default=64, description="concurrent message handlers per worker process")
    queue_partitions: int = 16
    queue_lease_ms: int = 10_000  # a killed worker's partitions are taken over after this
    session_ttl: int = 30 * 24 * 3600
    dedup_ttl: int = 48 * 3600
    rest_reply_timeout: float = 10.0
    max_body_bytes: int = 1024 * 1024
    send_max_attempts: int = 8
    send_lease: float = 30.0
    # pace sends to each platform's published limits; off only for load tests against fakes
    outbound_rate_limits: bool = True  # a stored reply not sent within this is re-sent by a sweeper
    send_max_retry_after: float = 3600.0
    lock_timeout: float = 30.0
    timezone: str = "Europe/Kyiv"
    default_language: Literal["uk", "en"] = "uk"
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    @property
    def scale_out(self) -> bool:
        return self.redis_url is not None


def secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
