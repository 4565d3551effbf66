"""What a log line must not show at INFO and above: tokens and secrets (bearer tokens, a Telegram
bot token, also inside an API URL, Viber and Meta tokens, ``token=``/``secret=`` parameters and
signature headers, and the exact secrets of the settings), and the texts customers and agents
write.

A text reaches a log line only at DEBUG, or marked: ``log.info("got %s", said(text))`` writes
the text at DEBUG and ``‹text, 23 chars›`` at INFO and above (`bots.logs.MaskingFilter`).
Phones and e-mails are masked by `bots.logs.mask_personal_data`, on every line.

Every pattern runs on untrusted text, so each is linear in its length: a match starts at a
literal (``Bearer``, a header or parameter name) or where the previous character cannot belong
to it, and the repeated runs are bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr

__all__ = ["SaidText", "mask_secrets", "said", "secrets_of"]

MASK = "***"
_TOKENS = [
    # "Authorization: Bearer abc", "bearer=abc"
    (re.compile(r"(?i)(\bbearer[\s=:]+)[A-Za-z0-9._~+/=-]{1,4096}"), rf"\g<1>{MASK}"),
    # a Telegram bot token, alone or in an API URL (.../bot123456:AAE.../sendMessage)
    (re.compile(r"(?<![0-9])[0-9]{5,12}:[A-Za-z0-9_-]{20,128}"), MASK),
    # a Viber auth token (three groups of 16 hex digits)
    (re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{16}-[0-9a-fA-F]{16}-[0-9a-fA-F]{16}"), MASK),
    # Meta / Instagram access tokens
    (re.compile(r"(?<![A-Za-z0-9])(?:EAA|IGQ)[A-Za-z0-9_-]{20,2048}"), MASK),
    # token=..., access_token=..., secret=..., password=..., signature=... (URLs, forms, reprs)
    (
        re.compile(
            r"(?i)\b((?:access_|verify_|api_|auth_|bot_|rest_|admin_)?"
            r"(?:token|secret|password|signature|api_?key|sig)['\"]?\s{0,3}[=:]\s{0,3}['\"]?)"
            r"[^\s&'\",;)}\]]{1,4096}"
        ),
        rf"\g<1>{MASK}",
    ),
    # signature and secret headers
    (
        re.compile(
            r"(?i)\b((?:x-telegram-bot-api-secret-token|x-viber-content-signature"
            r"|x-hub-signature(?:-256)?|x-omnirelay-signature|authorization)['\"]?\s{0,3}[:=]"
            r"\s{0,3}['\"]?)[^\s'\",;)}\]]{1,4096}"
        ),
        rf"\g<1>{MASK}",
    ),
    # pydantic's errors quote the rejected input: it may be a customer's text
    (re.compile(r"(input_value=).{0,300}?(, input_type=)"), rf"\g<1>{MASK}\g<2>"),
]
_PLUS = re.compile(r"%2[bB](?=[0-9])")
_AT = re.compile(r"%40")
MIN_SECRET = 6  # shorter exact secrets would mask ordinary words


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without tokens of the known shapes and without the exact ``secrets``."""
    for value in secrets:
        if len(value) >= MIN_SECRET and value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _TOKENS:
        text = pattern.sub(replacement, text)
    # a URL's "%2B380..." and "name%40host" become "+380..." and "name@host", which the phone
    # and e-mail masks that run next recognise
    return _PLUS.sub("+", _AT.sub("@", text))


def secrets_of(settings: Any) -> list[str]:
    """Every secret value of a settings object (its `SecretStr` fields that are set)."""
    found = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr) and value.get_secret_value():
            found.append(value.get_secret_value())
    return found


class SaidText(str):
    """A text someone wrote, marked for the log: shown at DEBUG, replaced above it."""

    __slots__ = ()

    def masked(self) -> str:
        return f"‹text, {len(self)} chars›"


def said(text: str | None) -> SaidText | None:
    """Mark a customer's or an agent's text for a log call's arguments."""
    return None if text is None else SaidText(text)
