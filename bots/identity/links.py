"""The "continue in Telegram / Viber / Instagram" deep links: where they point, and the
one-time code each carries (`t.me/<bot>?start=CODE`, Viber `context`, Instagram `ref`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

DEEP_LINK_TTL = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Addresses the "continue in ..." links point at; a channel without one is not offered."""

    telegram_bot: str | None = None  # t.me/<bot>?start=CODE
    viber_chat_uri: str | None = None  # viber://pa?chatURI=<uri>&context=CODE
    instagram_user: str | None = None  # ig.me/m/<user>?ref=CODE

    def channels(self, *, exclude: str | None = None) -> list[str]:
        """The channels a link can be offered to, but ``exclude`` (the one written from)."""
        configured = {
            "telegram": self.telegram_bot,
            "viber": self.viber_chat_uri,
            "instagram": self.instagram_user,
        }
        return [c for c, address in configured.items() if address and c != exclude]

    def urls(self, code: str, channels: list[str]) -> dict[str, str]:
        """The deep link carrying ``code`` of each of ``channels``, in that order."""
        urls: dict[str, str] = {}
        for channel in channels:
            if channel == "telegram" and self.telegram_bot:
                urls[channel] = f"https://t.me/{self.telegram_bot}?start={code}"
            elif channel == "viber" and self.viber_chat_uri:
                uri = quote(self.viber_chat_uri)
                urls[channel] = f"viber://pa?chatURI={uri}&context={code}"
            elif channel == "instagram" and self.instagram_user:
                urls[channel] = f"https://ig.me/m/{self.instagram_user}?ref={code}"
        return urls
