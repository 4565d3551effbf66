"""The settings as the other packages take them: the handoff package's config and the NLU
review log (kept out of `bots.app`, which wires them)."""

from __future__ import annotations

from bots.config import Settings, secret
from handoff.config import DEFAULT_TOPICS, HandoffConfig
from handoff.throttle import LoginConfig
from nlu import ReviewLog


def handoff_config(s: Settings) -> HandoffConfig:
    """The handoff package's knobs from the settings (the `handoff_*` fields and the shared
    language, timezone, lock and send lease)."""
    return HandoffConfig(
        default_language=s.default_language,
        timezone=s.timezone,
        offer_timeout=s.handoff_offer_timeout,
        presence_timeout=s.handoff_presence_timeout,
        tick=s.handoff_tick,
        business_hours=s.handoff_business_hours,
        holidays=tuple(s.handoff_holidays),
        complaint_intents=frozenset(s.handoff_complaint_intents),
        stale_order_days=s.handoff_stale_order_days,
        topics={**DEFAULT_TOPICS, **s.handoff_topics},
        avg_handle_minutes=s.handoff_avg_handle_minutes,
        callback_after_minutes=s.handoff_callback_after_minutes,
        webhook_url=s.handoff_webhook_url,
        webhook_secret=secret(s.handoff_webhook_secret),
        admin_token=secret(s.admin_token),
        console_session_hours=s.console_session_hours,
        cookie_secure=s.console_cookie_secure,
        login=LoginConfig.of(s),  # the login_* settings and trusted_proxies
        lock_timeout=s.lock_timeout,
        send_lease=s.send_lease,
        fcr_days=s.analytics_fcr_days,
        review_log=str(s.nlu_review_log) if s.nlu_review_log is not None else None,
    )


def review_log(s: Settings) -> ReviewLog | None:
    if s.nlu_review_log is None:
        return None
    return ReviewLog(s.nlu_review_log)
