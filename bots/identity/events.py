"""Links made by a platform event instead of a message (a Viber `conversation_started` with
`context`, an Instagram referral with `ref`), and the answer that tells the customer what the
link did, on the channel it was opened on.

Viber allows no message to a user who has only opened the chat: the answer is the welcome in
the webhook's HTTP response, so the waiting gateway gets it through the reply mailbox
(`ChannelEvent.reply_to`). Elsewhere it is an ordinary reply through the outbox.

The answer's words are the dialogue's (`bots.flows.linking.link_event_reply`): the worker passes
them in as a `LinkReply`, so identity imports nothing of the flows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

import orjson

from bots.messages import ChannelEvent, OutboundMessage, PendingSend, encode_outbound
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import ReplyTarget
from storage.sessions import Session

if TYPE_CHECKING:
    from bots.identity.service import IdentityService

log = logging.getLogger(__name__)

NO_ANSWER = b"null"  # to a waiting gateway: nothing to say, use the channel's own welcome

#: The answer to a link: (link status, the customer's language or None, their session or None).
LinkReply: TypeAlias = Callable[[str, str | None, Session | None], OutboundMessage]


class LinkEvents:
    """Link by an event's code, then answer it (see the module docstring)."""

    def __init__(self, identity: IdentityService, reply: LinkReply) -> None:
        self.identity = identity
        self.reply = reply

    async def handle(self, event: ChannelEvent, now: datetime) -> PendingSend | None:
        """Link, then answer: delivered to the waiting gateway, or returned for the outbox."""
        result = await self.identity.link_event(event, now)
        if result is None:  # no code in the event
            await self.unanswered(event)
            return None
        log.info("%s conversation started with a link code: %s", event.channel, result.status)
        session = None
        if result.customer_id is not None:
            session = await self.identity.backends.sessions.get(result.customer_id)
        language = (session.language if session else None) or _platform_language(event)
        reply = self.reply(result.status, language, session)
        target = ReplyTarget(event.channel, event.user_id, now)
        if event.reply_to is not None:
            if result.customer_id is not None:  # the welcome goes in the timeline too
                await self.identity.store_outbound(
                    result.customer_id, target, reply, now, sent=True
                )
            body = orjson.dumps(encode_outbound(reply))
            await self.identity.backends.mailbox.deliver(event.reply_to, event.event_id, body)
            return None
        customer_id = result.customer_id
        if customer_id is None:  # a wrong code from a newcomer: still a person to answer
            async with self.identity.db.transaction() as s:
                found, _ = await CustomerRepository(s).resolve_identity(
                    event.channel, event.user_id, now=now
                )
                customer_id = found.id
        return await self.identity.store_outbound(customer_id, target, reply, now)

    async def unanswered(self, event: ChannelEvent) -> None:
        """A gateway waits for an answer that no link gives: let it use its own welcome."""
        if event.reply_to is not None:
            await self.identity.backends.mailbox.deliver(event.reply_to, event.event_id, NO_ANSWER)


def _platform_language(event: ChannelEvent) -> str | None:
    """The language the platform reports for the user (Viber's `user.language`), if any."""
    user = event.raw.get("user") if isinstance(event.raw, dict) else None
    language = user.get("language") if isinstance(user, dict) else None
    return str(language)[:2].lower() if isinstance(language, str) and language else None
