"""Small repositories, one per aggregate; each takes an `AsyncSession` and never commits."""

from __future__ import annotations

from storage.repositories.conversations import ConversationRepository
from storage.repositories.customers import CustomerRepository
from storage.repositories.messages import MessageRepository
from storage.repositories.orders import OrderRepository

__all__ = ["ConversationRepository", "CustomerRepository", "MessageRepository", "OrderRepository"]
