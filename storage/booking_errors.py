"""Errors of the booking repositories (the storage branch of omnirelay's exception family)."""

from __future__ import annotations

from storage.errors import Conflict, NotFound, StorageError

__all__ = ["BookingNotFound", "InvalidSlot", "SlotTaken", "UnknownService"]


class SlotTaken(Conflict):
    """Another booking already holds (part of) the wanted time of this staff member."""


class InvalidSlot(StorageError):
    """The wanted time cannot be booked at all: in the past, outside working hours, or with a
    staff member who does not provide the service."""


class BookingNotFound(NotFound):
    """No booking has this reference (or id)."""


class UnknownService(NotFound):
    """No active service has this code."""
