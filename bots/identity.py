"""Linking channel identities into one customer: by link code (deep links), by a phone the
platform vouches for, by a code sent to a verified phone's channel; merges with their session
and undo; where proactive and agent messages go.

Locking: a merge holds the customer locks of both profiles (in id order), so no message of
either is processed meanwhile. The absorbed profile's session becomes a tombstone
(``data["merged_into"]``): a worker that cached the old identity -> customer mapping sees it
right after taking the (old) customer's lock, looks the identity up again and takes the
survivor's lock instead (`Worker._mw_lock`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import phonenumbers

from bots.messages import ChannelEvent, InboundMessage, OutboundMessage, encode_outbound
from bots.pipeline import PendingSend
from storage.repositories.customers import CustomerRepository
from storage.repositories.identity import (
    IdentityRepository,
    LinkCodeError,
    ReplyTarget,
)
from storage.repositories.messages import MessageRepository
from storage.sessions import Session

if TYPE_CHECKING:
    from bots.config import Settings
    from storage.backends import Backends
    from storage.db import Database
    from storage.models import CustomerMerge

log = logging.getLogger(__name__)

PHONE_CODE_TTL = timedelta(minutes=10)
DEEP_LINK_TTL = timedelta(minutes=30)
ATTEMPT_WINDOW = timedelta(minutes=15)
MAX_FAILED_ATTEMPTS = 5  # per channel user and window
MAX_CODES = 5  # issued per customer and window
LINKING_FLOW = "linking"
SUSPENDED = "suspended"  # the dialogue's key for a flow interrupted by another (flows.engine)

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


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Addresses the "continue in ..." links point at; a channel without one is not offered."""

    telegram_bot: str | None = None  # t.me/<bot>?start=CODE
    viber_chat_uri: str | None = None  # viber://pa?chatURI=<uri>&context=CODE
    instagram_user: str | None = None  # ig.me/m/<user>?ref=CODE


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
            await self._end_linking(result.customer_id)
        return result

    async def _end_linking(self, customer_id: int) -> None:
        """After a link made by an event (no turn of the dialogue follows it): the linking
        flow that offered the link is over, and the task it interrupted (a booking) is where
        the customer's next message, on any channel, continues."""
        async with self._locked([customer_id]):
            session = await self.backends.sessions.get(customer_id)
            if session.flow != LINKING_FLOW:
                return
            saved = session.data.pop(SUSPENDED, None)
            if isinstance(saved, dict) and saved.get("flow"):
                session.flow, session.step = saved["flow"], saved.get("step")
                session.slots = dict(saved.get("slots") or {})
            else:
                session.flow, session.step, session.slots = None, None, {}
            await self.backends.sessions.save(session)
        log.info("customer %s: linked by an event; the interrupted task goes on", customer_id)

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
            survivor = await self._active(repo, owner)
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
        self, customer_id: int, target: ReplyTarget, message: OutboundMessage, now: datetime
    ) -> PendingSend:
        """Put a message to another channel of a customer into the outbox (sent by the turn)."""
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
                due_at=now + timedelta(seconds=30),
            )
        return PendingSend(row.id, target.channel, target.external_id, message)

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
            owner = await self._active(repo, row.customer_id)
        if owner == requester:
            return LinkResult("already", requester), None
        async with self._locked([owner], held=[requester]):
            absorbed = await self.backends.sessions.get(owner)
            merge = await self._merge_db(
                requester, owner, f"{channel}:{external_id}", "phone_code", now, absorbed
            )
            await self._tombstone(absorbed, requester, merge.id)
        return LinkResult("linked", requester, merge.id), absorbed

    # ---- merges ---------------------------------------------------------------------------------

    async def merge(
        self, survivor: int, absorbed: int, *, actor: str, reason: str, now: datetime
    ) -> CustomerMerge:
        """Merge two profiles (both locks held meanwhile); the survivor keeps the session with
        an unfinished task, else the newer one; the absorbed session becomes a tombstone."""
        async with self._locked([survivor, absorbed]):
            kept = await self.backends.sessions.get(survivor)
            gone = await self.backends.sessions.get(absorbed)
            merge = await self._merge_db(survivor, absorbed, actor, reason, now, gone)
            if _prefer(gone, kept):
                adopted = adopt(kept, gone)
                await self.backends.sessions.save(adopted)
            await self._tombstone(gone, survivor, merge.id)
        log.info("customer %s merged into %s (%s, merge %s)", absorbed, survivor, reason, merge.id)
        return merge

    async def undo(self, merge_id: int, *, actor: str, now: datetime) -> CustomerMerge:
        """Undo a merge: rows back, the absorbed profile's session restored, and the survivor's
        identities re-checked by every worker (its session marks the change)."""
        async with self.db.session() as s:
            record = await IdentityRepository(s).get_merge(merge_id)
            if record is None:
                from storage.errors import NotFound

                raise NotFound(f"merge {merge_id} does not exist")
            ids = [record.survivor_id, record.absorbed_id]
        async with self._locked(ids):
            async with self.db.transaction() as s:
                record = await IdentityRepository(s).undo(merge_id, actor=actor, now=now)
            stored = await self.backends.sessions.get(record.absorbed_id)
            old = record.absorbed_session or {}
            restored = Session(record.absorbed_id, version=stored.version)
            for name in ("language", "flow", "step", "slots", "last_channel", "data", "handoff"):
                if name in old:
                    setattr(restored, name, old[name])
            restored.data = dict(restored.data or {})
            restored.data["identities_changed_at"] = time.time()
            await self.backends.sessions.save(restored)
            kept = await self.backends.sessions.get(record.survivor_id)
            kept.data["identities_changed_at"] = time.time()
            await self.backends.sessions.save(kept)
        log.info("merge %s undone by %s", merge_id, actor)
        return record

    async def moved_since(self, customer_id: int, resolved_at: float) -> bool:
        """True when identities of ``customer_id`` may have changed owner after ``resolved_at``
        (wall-clock seconds): merged away, or a merge of it undone. Caller holds its lock."""
        data = (await self.backends.sessions.get(customer_id)).data
        if data.get("merged_into") is not None:
            return True
        changed = data.get("identities_changed_at")
        return isinstance(changed, int | float) and changed >= resolved_at

    async def _merge_db(
        self, survivor: int, absorbed: int, actor: str, reason: str, now: datetime, gone: Session
    ) -> CustomerMerge:
        async with self.db.transaction() as s:
            return await IdentityRepository(s).merge(
                survivor,
                absorbed,
                actor=actor,
                reason=reason,
                now=now,
                absorbed_session=gone.to_dict(),
            )

    async def _tombstone(self, gone: Session, survivor: int, merge_id: int) -> None:
        stored = await self.backends.sessions.get(gone.customer_id)
        tomb = Session(gone.customer_id, version=stored.version)
        tomb.data = {"merged_into": survivor, "merge_id": merge_id}
        await self.backends.sessions.save(tomb)

    async def _active(self, repo: IdentityRepository, customer_id: int) -> int:
        """Follow merged_into links to the profile that is live now."""
        seen: set[int] = set()
        while customer_id not in seen:
            seen.add(customer_id)
            customer = (await repo.profile(customer_id)).customer
            if customer.merged_into_id is None:
                return customer_id
            customer_id = customer.merged_into_id
        return customer_id

    @contextlib.asynccontextmanager
    async def _locked(self, ids: Iterable[int], held: Iterable[int] = ()) -> AsyncIterator[None]:
        """Hold the customer locks of ``ids`` (in id order) except those the caller holds."""
        async with contextlib.AsyncExitStack() as stack:
            for customer_id in sorted(set(ids) - set(held)):
                await stack.enter_async_context(
                    self.backends.locks.hold(customer_id, self.lock_timeout)
                )
            yield

    # ---- "continue in ..." links, routing -----------------------------------------------------

    async def continue_links(
        self, customer_id: int, now: datetime, *, exclude: str | None = None
    ) -> dict[str, str]:
        """One fresh single-use code in the deep link of every configured channel but
        ``exclude`` (the one the customer writes from); empty when there is no such channel or
        the customer asked for too many codes."""
        links = dataclasses.replace(
            self.links,
            telegram_bot=None if exclude == "telegram" else self.links.telegram_bot,
            viber_chat_uri=None if exclude == "viber" else self.links.viber_chat_uri,
            instagram_user=None if exclude == "instagram" else self.links.instagram_user,
        )
        if not (links.telegram_bot or links.viber_chat_uri or links.instagram_user):
            return {}
        async with self.db.transaction() as s:
            repo = IdentityRepository(s)
            if await repo.codes_issued_since(customer_id, now - ATTEMPT_WINDOW) >= MAX_CODES:
                return {}
            code = await repo.issue_code("deep_link", customer_id, now=now, ttl=DEEP_LINK_TTL)
        urls: dict[str, str] = {}
        if links.telegram_bot:
            urls["telegram"] = f"https://t.me/{links.telegram_bot}?start={code}"
        if links.viber_chat_uri:
            urls["viber"] = f"viber://pa?chatURI={quote(links.viber_chat_uri)}&context={code}"
        if links.instagram_user:
            urls["instagram"] = f"https://ig.me/m/{links.instagram_user}?ref={code}"
        return urls

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


def _has_task(session: Session) -> bool:
    """An unfinished task: a flow other than linking, or one that linking interrupted."""
    if session.flow == LINKING_FLOW:
        return bool(session.data.get(SUSPENDED))
    return session.flow is not None


def _prefer(candidate: Session, current: Session) -> bool:
    """Does ``candidate`` (the absorbed profile's session) beat ``current``? An unfinished task
    wins; otherwise the newer one."""
    if _has_task(candidate) != _has_task(current):
        return _has_task(candidate)
    return candidate.updated_at > current.updated_at


def adopt(into: Session, other: Session) -> Session:
    """``into`` (keeping its customer id, version and open conversation) carrying the dialogue
    state of ``other``."""
    data: dict[str, Any] = {**other.data}
    data.pop("merged_into", None)
    if "conversation_id" in into.data:
        data["conversation_id"] = into.data["conversation_id"]
    return dataclasses.replace(
        into,
        language=other.language or into.language,
        flow=other.flow,
        step=other.step,
        slots=dict(other.slots),
        fallback_count=0,
        data=data,
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
