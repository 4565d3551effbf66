"""The channel branch of omnirelay's exception family."""

from __future__ import annotations

from storage.errors import OmnirelayError


class ChannelError(OmnirelayError):
    """Something went wrong at a messaging platform boundary."""


class SignatureError(ChannelError):
    """A webhook request's signature or secret token did not match (answer 401/403)."""


class MalformedPayload(ChannelError):
    """A webhook body could not be parsed (answer 400, log why)."""


class SendError(ChannelError):
    """Sending a message to a platform failed."""


class RateLimited(SendError):
    """The platform asked us to slow down; `retry_after` seconds when it said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientSendError(SendError):
    """A 5xx or network failure: worth retrying with backoff."""


class RecipientUnreachable(SendError):
    """The user blocked the bot, unsubscribed or deactivated: stop sending to this identity."""


class OutsideMessagingWindow(SendError):
    """The platform's messaging window has closed for this user (Instagram 24 h / 7 days)."""


class PermanentSendError(SendError):
    """The platform rejected the message for good (bad request): do not retry."""
