"""One settings object, read from the environment (and `.env`) in `main()` or a test fixture."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of omnirelay. Names are `OMNIRELAY_<FIELD>` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="OMNIRELAY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # `OMNIRELAY_VIBER_TOKEN=` (as docker compose passes an unset variable) means unset
        env_ignore_empty=True,
    )

    host: str = "127.0.0.1"
    port: int = 8080  # `omnirelay run` and `omnirelay gateway`
    # `omnirelay worker`'s /healthz, /readyz, /metrics: its own, so that a gateway and a worker
    # started from one environment on one host do not both bind `port` (0: any free port)
    worker_port: int = 8081
    # SIGTERM/SIGINT: stop taking webhooks, give in-flight turns and sends this long, leave the
    # rest to other processes or a restart; a second signal exits at once (bots/shutdown.py)
    shutdown_grace: float = Field(default=8.0, ge=0)
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

    # the business's own system (see bots/flows/http_backends.py); unset: omnirelay's database
    booking_api_url: str | None = None
    orders_api_url: str | None = None
    business_api_token: SecretStr | None = None
    business_api_timeout: float = 10.0
    rasa_timeout: float = 5.0  # seconds for one /model/parse call (NLU_BACKEND=rasa)
    # name, address, opening hours (YAML); unset: the bundled demo clinic's profile
    business_profile: Path | None = None
    # pin the bot's clock to start at this instant (tests, demos); it then runs at normal speed
    clock_start: datetime | None = None

    public_url: str | None = None
    rest_token: SecretStr | None = None
    admin_token: SecretStr | None = None
    # `POST /api/events` (events of the business's systems); unset: the admin token
    events_token: SecretStr | None = None
    # where "continue in ..." links point (unset: that channel is not offered)
    telegram_bot_username: str | None = None  # t.me/<name>?start=CODE
    viber_chat_uri: str | None = None  # viber://pa?chatURI=<uri>&context=CODE
    instagram_username: str | None = None  # ig.me/m/<name>?ref=CODE
    # the simulator page at `/` with in-process platform sandboxes (bots/gateway/simulator.py);
    # unset: `omnirelay run` turns it on when no platform token is set
    simulator: bool | None = None
    # the website chat (README "Web chat"): the key its script tag carries (unset: off, except
    # in one process without Redis, where the key is `demo`), the sites that may embed it
    # besides this host, the key signing visitor cookies (unset: a random one per process;
    # required with Redis), SameSite=None; Secure cookies (a widget on another site over
    # HTTPS), and the secret of the business's signed customer ids (identity verification)
    webchat_public_key: str | None = None
    webchat_allowed_origins: list[str] = []
    webchat_cookie_secret: SecretStr | None = None
    webchat_cookie_secure: bool = False
    webchat_identity_secret: SecretStr | None = None

    # human handoff (handoff/README.md)
    handoff_webhook_url: str | None = None  # every ticket event POSTed here, HMAC-signed
    handoff_webhook_secret: SecretStr | None = None
    handoff_offer_timeout: float = 120.0  # an unclaimed offer moves on; the 2nd time: supervisors
    handoff_presence_timeout: float = 120.0  # an online agent unseen this long is not counted
    handoff_tick: float = 5.0  # how often expired offers and waiting tickets are looked at
    handoff_business_hours: str = ""  # "" = always; "mon-fri 09:00-18:00; sat 10:00-14:00"
    handoff_holidays: list[str] = []  # closed days: "2026-01-01" once, "12-25" every year
    handoff_complaint_intents: list[str] = ["complaint"]  # these intents escalate at once
    handoff_stale_order_days: int = 0  # > 0: undelivered orders older than this escalate
    handoff_topics: dict[str, str] = {}  # flow or intent -> queue topic (added to the defaults)
    handoff_avg_handle_minutes: float = 5.0  # wait estimate before a queue has history
    handoff_callback_after_minutes: float = 15.0  # a longer wait: call back or message offered
    console_session_hours: float = 12.0
    console_cookie_secure: bool = False  # set behind HTTPS
    # console login (README "Access and login"): failures per account / per client IP before a
    # lock of `lock_minutes`; before that each failure doubles the wait from `delay_seconds`
    login_max_failures: int = Field(default=5, ge=1)
    login_ip_max_failures: int = Field(default=20, ge=1)
    login_lock_minutes: float = Field(default=15.0, gt=0)
    login_delay_seconds: float = Field(default=1.0, ge=0)
    # origins (https://host[:port]) besides the service's own host a login form may come from
    login_allowed_origins: list[str] = []

    # abuse limits (README "Abuse limits"): each sender (channel + chat) may send `burst`
    # messages at once and then `per_minute`; past that one polite notice, the rest is dropped
    inbound_rate_burst: int = Field(default=30, ge=0)  # 0: no per-sender limit
    inbound_rate_per_minute: float = Field(default=60.0, gt=0)
    # requests per client IP address to POST /webhooks/rest and POST /api/events (429 past it;
    # loopback clients are not limited)
    rest_rate_burst: int = Field(default=60, ge=0)  # 0: no per-IP limit
    rest_rate_per_minute: float = Field(default=120.0, gt=0)
    # proxies (addresses or CIDRs) whose X-Forwarded-For names the client; others' is ignored
    trusted_proxies: list[str] = []

    # processing
    workers: int = Field(default=64, description="concurrent message handlers per worker process")
    queue_partitions: int = 16
    queue_lease_ms: int = 10_000  # a killed worker's partitions are taken over after this
    session_ttl: int = 30 * 24 * 3600
    # backpressure: past these queue depths the gateway answers 503 with Retry-After instead of
    # queueing more (0: unbounded); the total is read at most every 0.25 s on Redis
    queue_max_depth: int = 20_000
    queue_max_partition_depth: int = 5_000
    queue_retry_after: float = 5.0
    # the durable inbox (storage/inbox_sweeper.py): how often lost queue partitions are looked
    # for, and after how long an accepted, unprocessed message is put back on the queue
    inbox_sweep_interval: float = 1.0
    inbox_grace: float = 300.0
    dedup_ttl: int = 48 * 3600
    rest_reply_timeout: float = 10.0
    max_body_bytes: int = 1024 * 1024
    send_max_attempts: int = 8
    send_lease: float = 30.0  # a stored reply not sent within this is re-sent by a sweeper
    # pace sends to each platform's published limits; off only for load tests against fakes
    outbound_rate_limits: bool = True
    # platform -> messages per second overall per bot, instead of the published figure (e.g.
    # {"telegram": 1000} with Telegram's paid broadcasts; Viber publishes none)
    outbound_rates: dict[str, float] = {}
    send_max_retry_after: float = 3600.0
    lock_timeout: float = 30.0
    # a customer lock of a stalled or dead process expires after this (default: the queue lease,
    # so a killed worker's customers wait no longer than its partitions)
    lock_lease_ms: int | None = None
    # proactive messages (bots/proactive/): the scenarios file (unset: the bundled demo one),
    # how often each worker process's scheduler looks for due messages, how long its claim on
    # a batch lasts (a killed process's messages go out after this), how many it claims at once
    # and decides concurrently
    scenarios: Path | None = None
    scheduler_interval: float = Field(default=1.0, gt=0)
    scheduler_lease: float = Field(default=30.0, gt=0)
    scheduler_batch: int = Field(default=200, ge=1)
    scheduler_concurrency: int = Field(default=1, ge=1)
    # metrics (storage/analytics/METRICS.md): a customer's message after this much silence
    # starts a new conversation; a customer back on a resolved ticket's topic within this many
    # days means it was not resolved at first contact; how often rollups are folded in
    analytics_conversation_gap_hours: float = Field(default=24.0, gt=0)
    analytics_fcr_days: int = Field(default=7, ge=1)
    analytics_rollup_interval: float = Field(default=10.0, gt=0)
    # retention (README "Retention"): days after which each data class is cleared (0 or unset:
    # kept forever): transcripts' texts, closed tickets' texts and notes, the NLU review list,
    # raw events (analytics events lose the person, proactive events and decisions go); how
    # often the job runs (one process at a time, whichever takes its lease)
    retention_transcripts_days: int | None = Field(default=None, ge=0)
    retention_tickets_days: int | None = Field(default=None, ge=0)
    retention_review_days: int | None = Field(default=None, ge=0)
    retention_events_days: int | None = Field(default=None, ge=0)
    retention_interval: float = Field(default=3600.0, gt=0)
    timezone: str = "Europe/Kyiv"
    default_language: Literal["uk", "en"] = "uk"
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    @field_validator("outbound_rates")
    @classmethod
    def _positive_rates(cls, rates: dict[str, float]) -> dict[str, float]:
        bad = [f"{name}={rate}" for name, rate in rates.items() if not rate > 0]
        if bad:
            raise ValueError(f"outbound rates must be positive: {', '.join(bad)}")
        return rates

    @property
    def scale_out(self) -> bool:
        return self.redis_url is not None


def secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
