"""The handoff branch of errors: each maps to one HTTP status in the API."""

from __future__ import annotations

from storage.errors import OmnirelayError

__all__ = ["Conflict", "Forbidden", "HandoffError", "NotFound"]


class HandoffError(OmnirelayError):
    """A request the handoff package refuses (400)."""

    status = 400


class NotFound(HandoffError):
    status = 404


class Forbidden(HandoffError):
    status = 403


class Conflict(HandoffError):
    """The ticket changed under us (claimed by someone else, closed already...)."""

    status = 409
