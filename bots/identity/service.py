"""Linking channel identities into one customer: by link code (deep links), by a phone the
platform vouches for, by a code sent to a verified phone's channel; "continue in ..." links;
where proactive and agent messages go.

Merges and their undo (and the locking they need) are `bots.identity.merges`; what they do to
the dialogue sessions is `bots.identity.sessions`; the deep links' addresses are
`bots.identity.links`; a link made by a platform event is answered by `bots.identity.events`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

import phonenumbers

from bots.identity.links import DEEP_LINK_TTL, LinkSettings
from bots.identity.merges import Merges
from bots.identity.sessions import LINKING_FLOW, SUSPENDED, adoptable_by_code
from bots.messages import (
    ChannelEvent,
    InboundMessage,
    OutboundMessage,
    PendingSend,
    encode_outbound,
)
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import IdentityRepository, LinkCodeError, ReplyTarget
from storage.repositories.messages import MessageRepository
from storage.sessions import Session

__all__ = [
    "LINKING_FLOW",
    "SUSPENDED",
    "IdentityService",
    "LinkResult",
    "LinkSettings",
    "ProfileContacts",
    "build_identity",
    "link_result_payload",
    "normalise_phone",
    "wants_result",
]

if TYPE_CHECKING:
    from bots.config import Settings
    from storage.backends import Backends
    from storage.db import Database
    from storage.models import CustomerMerge

log = logging.getLogger(__name__)

PHONE_CODE_TTL = timedelta(minutes=10)
ATTEMPT_WINDOW = timedelta(minutes=15)
MAX_FAILED_ATTEMPTS = 5  # per channel user and window
MAX_CODES = 5  # issued per customer and window

Status = Literal[
    "linked",  # a new identity joined, or two profiles were merged
    "already",  # nothing to do: same customer
    "phone_saved",  # a verified phone recorded on the customer's own profile
    "needs_code",  # the phone belongs to a profile that a code must confirm
    "invalid",
    "expired",
    "used",
    "rate_limited",
]


@dataclass(frozen=True, slots=True)
class LinkResult:
    status: Status
    customer_id: int | None = None
    merge_id: int | None = None


def normalise_phone(text: str, region: str = "UA") -> str | None:
    """E.164 form of a phone number, or None when it is not a valid one."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def link_result_payload(status: str) -> str:
    """The button-style payload a linking outcome is handed to the dialogue as."""
    return f'/link_result{{"result":"{status}"}}'


class IdentityService:
    """Everything that changes which customer a channel identity belongs to."""

    def __init__(
        self,
        db: Database,
        backends: Backends,
        *,
        lock_timeout: float = 30.0,
        links: LinkSettings | None = None,
    ) -> None:
        self.db = db
        self.backends = backends
        self.lock_timeout = lock_timeout
        self.links = links or LinkSettings()
        self.merges = Merges(db, backends, lock_timeout=lock_timeout)

    # ---- inbound linking (before the turn takes the customer lock) -----------------------------

    async def link_inbound(self, msg: InboundMessage, now: datetime) -> LinkResult | None:
        """Link by a deep-link code or a platform-verified contact carried by ``msg``."""
        if msg.deep_link:
            return await self.link_by_code(
                msg.channel, msg.user_id, msg.deep_link, now, display_name=msg.user_name
            )
        if msg.contact_phone and msg.contact_verified:
            phone = normalise_phone(msg.contact_phone)
            if phone is None:
                log.info("%s: shared contact is not a valid phone number", msg.channel)
                return None
            return await self.link_by_verified_phone(
                msg.channel, msg.user_id, phone, now, display_name=msg.user_name
            )
        return None

    async def link_event(self, event: ChannelEvent, now: datetime) -> LinkResult | None:
        """A Viber `conversation_started` with `context`, an Instagram referral with `ref`."""
        if not event.detail:
            return None
        user = event.raw.get("user") if isinstance(event.raw, dict) else None
        name = user.get("name") if isinstance(user, dict) else None
        result = await self.link_by_code(
            event.channel, event.user_id, event.detail, now, display_name=name
        )
        if result.status in ("linked", "already") and result.customer_id is not None:
            await self.merges.resume_after_link(result.customer_id)
        return result

    async def link_by_code(
        self,
        channel: str,
        external_id: str,
        code: str,
        now: datetime,
        *,
        display_name: str | None = None,
    ) -> LinkResult:
        """Join (channel, external_id) to the customer a deep-link code was issued for."""
        by = f"{channel}:{external_id}"
        async with self.db.transaction() as s:
            repo = IdentityRepository(s)
            if await repo.failed_attempts(channel, external_id, now - ATTEMPT_WINDOW) >= (
                MAX_FAILED_ATTEMPTS
            ):
                log.warning("link codes from %s are rate-limited", channel)
                return LinkResult("rate_limited")
            try:
                row = await repo.redeem(code, kind="deep_link", by=by, now=now)
            except LinkCodeError as e:
                await repo.record_attempt(channel, external_id, False, now)
                failure: LinkCodeError | None = e
                owner = None
            else:
                await repo.record_attempt(channel, external_id, True, now)
                failure, owner = None, row.customer_id
            current = await CustomerRepository(s).find_by_identity(channel, external_id)
            if failure is not None:
                if failure.reason == "used" and current is not None and failure.used_by == by:
                    # a redelivered message whose first run linked already (another chat
                    # opening a used code is told it is used, whatever profile it has)
                    return LinkResult("already", current.id)
                log.info("link code from %s refused: %s", channel, failure.reason)
                return LinkResult(failure.reason)  # type: ignore[arg-type]
            assert owner is not None
            survivor = await self.merges.active(repo, owner)
            if current is None:
                await repo.attach_identity(
                    survivor, channel, external_id, display_name=display_name, now=now
                )
                log.info("%s identity joined customer %s by link code", channel, survivor)
                return LinkResult("linked", survivor)
        if current.id == survivor:
            return LinkResult("already", survivor)
        merge = await self.merge(survivor, current.id, actor=by, reason="link_code", now=now)
        return LinkResult("linked", survivor, merge.id)

    async def link_by_verified_phone(
        self,
        channel: str,
        external_id: str,
        phone: str,
        now: datetime,
        *,
        display_name: str | None = None,
    ) -> LinkResult:
        """A phone the platform vouches for: join the customer who verified it before, unless
        the two profiles have different verified phones (then only a code may merge them)."""
        async with self.db.transaction() as s:
            repo = IdentityRepository(s)
            found = await CustomerRepository(s).resolve_identity(
                channel, external_id, display_name=display_name, now=now
            )
            current = found[0].id
            owner = await repo.verified_owner(phone, exclude=current)
            if owner is None:
                await repo.add_phone(current, phone, verified=True, via=channel, now=now)
                return LinkResult("phone_saved", current)
            mine = await repo.verified_phones(current)
            if mine - {phone}:
                log.info("verified phones differ: customer %s needs a code", current)
                return LinkResult("needs_code", current)
            survivor = owner.id
        merge = await self.merge(
            survivor, current, actor=f"{channel}:{external_id}", reason="verified_phone", now=now
        )
        return LinkResult("linked", survivor, merge.id)

    # ---- typed phone -> code sent elsewhere -> typed back (inside the customer's turn) -------

    async def request_phone_code(
        self, requester_id: int, phone: str, now: datetime
    ) -> tuple[str, ReplyTarget, int, str | None] | LinkResult:
        """Issue a code for the profile where ``phone`` is verified; returns (code, where to
        send it, owner id, owner language), or a `LinkResult` saying why not."""
        async with self.db.transaction() as s:
            repo = IdentityRepository(s)
            owner = await repo.verified_owner(phone, exclude=requester_id)
            if owner is None:
                return LinkResult("invalid")
            if await repo.codes_issued_since(requester_id, now - ATTEMPT_WINDOW) >= MAX_CODES:
                return LinkResult("rate_limited")
            target = await repo.reply_target(owner.id, now=now, purpose="bot")
            if target is None:
                return LinkResult("needs_code", owner.id)
            code = await repo.issue_code(
                "phone",
                owner.id,
                now=now,
                ttl=PHONE_CODE_TTL,
                requester_id=requester_id,
                phone=phone,
                sent_channel=target.channel,
            )
            return code, target, owner.id, owner.language

    async def store_outbound(
        self,
        customer_id: int,
        target: ReplyTarget,
        message: OutboundMessage,
        now: datetime,
        *,
        sent: bool = False,
    ) -> PendingSend:
        """Put a message to a channel of a customer into the outbox (the caller sends it), or
        with ``sent`` only into the transcript (delivered in a webhook's answer)."""
        async with self.db.transaction() as s:
            row = await MessageRepository(s).add_outbound(
                customer_id,
                None,
                target.channel,
                target.external_id,
                "bot",
                message.text,
                encode_outbound(message),
                None,
                now,
                status="sent" if sent else "pending",
                due_at=None if sent else now + timedelta(seconds=30),
            )
        return PendingSend(row.id, target.channel, target.external_id, message)

    async def remember_phone(self, customer_id: int, phone: str, now: datetime) -> None:
        """Keep a phone the customer gave on their profile, UNVERIFIED (it links nothing)."""
        async with self.db.transaction() as s:
            await IdentityRepository(s).remember_contact(
                customer_id, name=None, phone=phone, now=now
            )

    async def confirm_phone_code(
        self, session: Session, channel: str, external_id: str, code: str, now: datetime
    ) -> tuple[LinkResult, Session | None]:
        """Check a typed code of the customer whose turn holds ``session`` (and its lock);
        on success merge the phone's profile into this one and return its old session."""
        requester = session.customer_id
        async with self.db.transaction() as s:
            repo = IdentityRepository(s)
            if await repo.failed_attempts(channel, external_id, now - ATTEMPT_WINDOW) >= (
                MAX_FAILED_ATTEMPTS
            ):
                return LinkResult("rate_limited"), None
            try:
                row = await repo.redeem(
                    code,
                    kind="phone",
                    by=f"{channel}:{external_id}",
                    now=now,
                    requester_id=requester,
                )
            except LinkCodeError as e:
                await repo.record_attempt(channel, external_id, False, now)
                return LinkResult(e.reason), None  # type: ignore[arg-type]
            await repo.record_attempt(channel, external_id, True, now)
            owner = await self.merges.active(repo, row.customer_id)
        if owner == requester:
            return LinkResult("already", requester), None
        merge, absorbed = await self.merges.merge_into_turn(
            requester,
            owner,
            actor=f"{channel}:{external_id}",
            reason="phone_code",
            now=now,
            adopts=lambda absorbed: adoptable_by_code(session, absorbed),
        )
        return LinkResult("linked", requester, merge.id), absorbed

    # ---- merges (bots.identity.merges) ---------------------------------------------------------

    async def merge(
        self, survivor: int, absorbed: int, *, actor: str, reason: str, now: datetime
    ) -> CustomerMerge:
        """See `Merges.merge`."""
        return await self.merges.merge(survivor, absorbed, actor=actor, reason=reason, now=now)

    async def undo(self, merge_id: int, *, actor: str, now: datetime) -> CustomerMerge:
        """See `Merges.undo`."""
        return await self.merges.undo(merge_id, actor=actor, now=now)

    async def moved_since(self, customer_id: int, at: float, *, cached: bool = False) -> bool:
        """See `Merges.moved_since`."""
        return await self.merges.moved_since(customer_id, at, cached=cached)

    # ---- "continue in ..." links, routing -----------------------------------------------------

    async def continue_links(
        self, customer_id: int, now: datetime, *, exclude: str | None = None
    ) -> dict[str, str]:
        """One fresh single-use code in the deep link of every configured channel but
        ``exclude`` (the one the customer writes from); empty when there is no such channel or
        the customer asked for too many codes."""
        channels = self.links.channels(exclude=exclude)
        if not channels:
            return {}
        async with self.db.transaction() as s:
            repo = IdentityRepository(s)
            if await repo.codes_issued_since(customer_id, now - ATTEMPT_WINDOW) >= MAX_CODES:
                return {}
            code = await repo.issue_code("deep_link", customer_id, now=now, ttl=DEEP_LINK_TTL)
        return self.links.urls(code, channels)

    async def reply_target(
        self, customer_id: int, *, purpose: Literal["bot", "agent"] = "agent", now: datetime
    ) -> ReplyTarget | None:
        """See `IdentityRepository.reply_target`."""
        async with self.db.session() as s:
            return await IdentityRepository(s).reply_target(customer_id, now=now, purpose=purpose)


class ProfileContacts:
    """Keeps contact details typed in a flow on the customer profile, where the admin API and
    the handoff ticket show them (see `IdentityRepository.remember_contact`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def remember(
        self, customer_id: int, *, name: str | None, phone: str | None, now: datetime
    ) -> None:
        e164 = normalise_phone(phone) if phone else None
        if phone and e164 is None:
            log.info("customer %s: a typed phone is not a valid number; not kept", customer_id)
        if not name and e164 is None:
            return
        async with self.db.transaction() as s:
            await IdentityRepository(s).remember_contact(
                customer_id, name=name, phone=e164, now=now
            )


def wants_result(result: LinkResult | None) -> bool:
    """Should the dialogue tell the customer about this linking outcome?"""
    return result is not None and result.status not in ("phone_saved", "needs_code")


def build_identity(settings: Settings, db: Database, backends: Backends) -> IdentityService:
    """The service with the "continue in ..." addresses from settings."""
    return IdentityService(
        db,
        backends,
        lock_timeout=settings.lock_timeout,
        links=LinkSettings(
            telegram_bot=settings.telegram_bot_username,
            viber_chat_uri=settings.viber_chat_uri,
            instagram_user=settings.instagram_username,
        ),
    )
