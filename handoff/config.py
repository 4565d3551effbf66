"""Handoff knobs, read from the application's settings object (`bots.config.Settings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_TOPIC", "DEFAULT_TOPICS", "HandoffConfig"]

#: The queue topic of everything no flow or intent maps to.
DEFAULT_TOPIC = "general"

#: Queue topic by flow name or intent; anything else goes to "general".
DEFAULT_TOPICS: Mapping[str, str] = {
    "order_status": "orders",
    "check_order_status": "orders",
    "booking": "bookings",
    "book_appointment": "bookings",
    "reschedule_appointment": "bookings",
    "cancel_appointment": "bookings",
    "complaint": "complaints",
}


@dataclass(frozen=True)
class HandoffConfig:
    default_language: str = "uk"
    timezone: str = "Europe/Kyiv"
    offer_timeout: float = 120.0  # an offered ticket nobody claims is re-offered after this
    tick: float = 5.0  # how often each process looks for expired offers and waiting tickets
    business_hours: str = ""  # "" = always staffed; "mon-fri 09:00-18:00; sat 10:00-14:00"
    complaint_intents: frozenset[str] = frozenset({"complaint"})
    stale_order_days: int = 0  # 0 = off; else undelivered orders older than this escalate
    topics: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TOPICS))
    avg_handle_minutes: float = 5.0  # wait estimate before the queue has closed tickets
    webhook_url: str | None = None
    webhook_secret: str | None = None
    admin_token: str | None = None
    console_session_hours: float = 12.0
    cookie_secure: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> HandoffConfig:
        """Read the `handoff_*` fields of the settings; absent ones keep their defaults."""

        def get(name: str, default: Any) -> Any:
            value = getattr(settings, name, None)
            return default if value is None else value

        def secret(name: str) -> str | None:
            value = getattr(settings, name, None)
            if value is None:
                return None
            reveal = getattr(value, "get_secret_value", None)
            return str(reveal() if reveal is not None else value)

        topics = dict(DEFAULT_TOPICS)
        topics.update(get("handoff_topics", {}))
        return cls(
            default_language=get("default_language", "uk"),
            timezone=get("timezone", "Europe/Kyiv"),
            offer_timeout=float(get("handoff_offer_timeout", 120.0)),
            tick=float(get("handoff_tick", 5.0)),
            business_hours=get("handoff_business_hours", ""),
            complaint_intents=frozenset(get("handoff_complaint_intents", ["complaint"])),
            stale_order_days=int(get("handoff_stale_order_days", 0)),
            topics=topics,
            avg_handle_minutes=float(get("handoff_avg_handle_minutes", 5.0)),
            webhook_url=get("handoff_webhook_url", None),
            webhook_secret=secret("handoff_webhook_secret"),
            admin_token=secret("admin_token"),
            console_session_hours=float(get("console_session_hours", 12.0)),
            cookie_secure=bool(get("console_cookie_secure", False)),
        )

    def topic_for(self, flow: str | None, intent: str | None) -> str:
        for key in (flow, intent):
            if key and key in self.topics:
                return self.topics[key]
        return DEFAULT_TOPIC
