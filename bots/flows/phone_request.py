"""The share-contact request of a reply ends with the next one.

A reply that asks for the phone carries the channel's share-contact button (`request_phone`):
on Telegram a reply keyboard, which hides once the customer taps it but stays on screen when
they type the number instead, under every message that follows (trial 3, T3). The dialogue
remembers that it asked, and marks the next reply that does not ask again
(`OutboundMessage.close_phone_request`): the channels that keep the button on screen take it
away with that reply.
"""

from __future__ import annotations

import dataclasses

from bots.messages import OutboundMessage
from storage.sessions import Session

__all__ = ["PHONE_REQUESTED", "close_phone_request"]

PHONE_REQUESTED = "phone_requested"  # session.data: a reply asked with the share-contact button


def close_phone_request(session: Session, replies: list[OutboundMessage]) -> list[OutboundMessage]:
    """``replies``, the first one without buttons (else the first) marked to take the
    share-contact button away when an earlier reply showed it and none of these asks again."""
    if any(r.request_phone for r in replies):
        session.data[PHONE_REQUESTED] = True
        return replies
    if not replies or not session.data.pop(PHONE_REQUESTED, False):
        return replies
    at = next((i for i, r in enumerate(replies) if not r.buttons), 0)
    marked = list(replies)
    marked[at] = dataclasses.replace(replies[at], close_phone_request=True)
    return marked
