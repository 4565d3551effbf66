"""Small repositories, one per aggregate; each takes an `AsyncSession` and never commits."""

from __future__ import annotations

from storage.repositories.availability import AvailabilityRepository, FreeSlot
from storage.repositories.bookings import BookingRepository
from storage.repositories.conversations import ConversationRepository
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from storage.repositories.orders import OrderRepository
from storage.repositories.services import ServiceRepository, StaffRepository

__all__ = [
    "AvailabilityRepository",
    "BookingRepository",
    "ConversationRepository",
    "CustomerRepository",
    "FreeSlot",
    "MessageRepository",
    "OrderRepository",
    "ServiceRepository",
    "StaffRepository",
]
