"""Account linking: "continue in Telegram/Viber/Instagram" links with a one-time code, a phone
number that a code sent to its verified messenger confirms, the outcome of a link made before
the turn (a deep-link code, a shared contact: `bots.identity.service`) or by a platform event
(`link_event_reply`), and a phone shared with no question asked (kept on the profile)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from bots.flows.base import ASK, Turn
from bots.flows.templates import LANGUAGES
from bots.flows.understanding import FALLBACK
from bots.identity.service import (
    LINKING_FLOW,
    IdentityService,
    LinkResult,
    normalise_phone,
)
from bots.identity.sessions import SUSPENDED, adoptable_by_code, continue_here, note_contact
from bots.messages import Button, OutboundMessage
from storage.repositories.customers import CustomerRepository

if TYPE_CHECKING:
    from bots.flows.templates import Templates
    from storage.sessions import Session

_CODE = re.compile(r"(?<!\d)(\d{3})[\s-]?(\d{3})(?!\d)")
_PHONEISH = re.compile(r"\+?\d[\d\s()-]{7,}\d")
RESULT_TEMPLATES = {
    "linked": "link_done",
    "already": "link_already",
    "invalid": "link_invalid",
    "used": "link_expired",
    "expired": "link_expired",
    "rate_limited": "link_rate_limited",
}
_CHANNELS = {"telegram": "Telegram", "viber": "Viber", "instagram": "Instagram"}
# The messenger a customer asks to continue in ("continue in Telegram", "перейти у вайбер").
_NAMED = {
    "telegram": re.compile(r"(?<!\w)(?:telegram|телеграм\w*|телеграмм\w*|tg|тг)(?!\w)", re.I),
    "viber": re.compile(r"(?<!\w)(?:viber|вайбер\w*)(?!\w)", re.I),
    "instagram": re.compile(r"(?<!\w)(?:instagram|insta|інстаграм\w*|інста\w*)(?!\w)", re.I),
}
# Words of going on elsewhere: with a messenger named, a request to continue there, whatever
# the NLU read ("хочу продовжити у вайбері" was not understood at all).
_CONTINUE = re.compile(
    r"(?<!\w)(?:continue|move|switch|carry\s+on|go\s+on|продовж\w*|перей\w*|переход\w*"
    r"|перебер\w*|переїд\w*)(?!\w)",
    re.IGNORECASE,
)
# Not now: the customer lets the linking go ("нічого", "never mind") while it asks for a phone.
_LET_GO = re.compile(
    r"(?<!\w)(?:нічого|не\s+треба|не\s+потрібно|не\s+хочу|не\s+зараз|пізніше|ні|nothing"
    r"|never\s*mind|nvm|no(?:\s+thanks?)?|not\s+now|later|skip|forget\s+it)(?!\w)",
    re.IGNORECASE,
)
LET_GO_INTENTS = frozenset({"deny", "stop"})
# Values another task asks for: given while a phone is asked, they answer the task set aside.
_OTHER_ANSWERS = frozenset({"time", "service", "order_number", "booking"})
TRIES = "_tries"  # slot: messages in a row that were no phone number (or code)
MAX_TRIES = 2  # ... after which the linking lets the customer go


class LinkingFlow:
    """Intent `link_account` starts it; `link_result` (a payload the worker puts on a message
    whose deep link or contact was handled before the turn) reports what happened; a phone
    given with no flow asking for it (a shared contact, a typed number) is kept or linked."""

    name = LINKING_FLOW
    intents = frozenset({"link_account", "link_result"})
    entity_triggers = frozenset({"phone"})

    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity

    async def start(self, turn: Turn) -> None:
        if turn.understanding.intent == "link_result":
            self._result(turn)
            return
        turn.goto(self.name, "ask_phone")
        turn.session.slots = {}
        phone = self._phone(turn)
        unasked = turn.understanding.intent != "link_account"  # a phone out of the blue
        if phone is not None:
            await self._got_phone(turn, phone, unasked=unasked)
            return
        if unasked:
            turn.finish()
            turn.say("link_bad_phone")
            return
        links = await self.identity.continue_links(
            turn.session.customer_id, turn.ctx.now, exclude=turn.ctx.message.channel
        )
        named = _named(turn.text)
        if named in links:
            turn.finish()  # the link is all it takes: no phone to ask for (trial 4, G11)
            self._continue_in(turn, str(named), links[str(named)])
            return
        turn.ask("link_ask_phone", request_phone=True)
        if links:
            # "Continue in Telegram": a link button carrying the one-time code in the
            # platform's deep link; the first message it opens there links the chats. Viber
            # shows only the last message's keyboard, so this one asks for the phone too (its
            # share-phone key stays); Telegram puts the links of such a message in its text.
            buttons = tuple(
                Button(turn.tr("link_continue_in", channel=_CHANNELS.get(c, c)), url=url)
                for c, url in links.items()
            )
            turn.say("link_offer", buttons=buttons, request_phone=True)

    async def step(self, turn: Turn) -> bool:
        u, step = turn.understanding, turn.session.step
        if u.intent == "link_result":
            self._result(turn)
            return True
        if step == "await_code":
            code = _code(turn.text)
            if code is not None:
                await self._check_code(turn, code)
                return True
        phone = self._phone(turn)
        if phone is not None:
            await self._got_phone(turn, phone)
            return True
        if self._answers_aside(turn):
            turn.finish()  # "13:30" for the rescheduling set aside: it takes the message
            return False
        let_go = u.intent in LET_GO_INTENTS or _LET_GO.search(turn.text or "") is not None
        if not let_go and u.intent not in ("inform", FALLBACK, "link_account"):
            return False  # a digression: the dialogue answers it and reminds
        slots = turn.session.slots
        slots[TRIES] = int(slots.get(TRIES, 0)) + 1
        if let_go or slots[TRIES] >= MAX_TRIES:
            turn.finish()  # never a trap: a task set aside goes on (`Dialogue._after`)
            turn.say("link_dropped")
            return True
        if step == "await_code":
            turn.say("link_ask_code")
        else:
            turn.say("link_bad_phone")
        return True

    def remind(self, turn: Turn) -> None:
        if not turn.ask_again() and turn.session.step == "await_code":
            turn.say("link_ask_code")

    # ---- steps --------------------------------------------------------------------------------

    @staticmethod
    def _answers_aside(turn: Turn) -> bool:
        """The message gives a value (a time, a service...) and a task was set aside for the
        linking: it answers that task's question, not this one's."""
        given = _OTHER_ANSWERS & turn.understanding.entities.keys()
        return bool(given) and bool(turn.session.data.get(SUSPENDED))

    @staticmethod
    def _continue_in(turn: Turn, channel: str, url: str) -> None:
        """How to go on in ``channel``: its link button, and for Telegram what to send there
        without the button (the deep link's own "/start CODE", `bots.channels.telegram_parse`)."""
        title = _CHANNELS.get(channel, channel)
        button = Button(turn.tr("link_continue_in", channel=title), url=url)
        text = turn.tr("link_continue_named", channel=title)
        query = urlsplit(url)
        code = (parse_qs(query.query).get("start") or [""])[0]
        if channel == "telegram" and code:
            bot = query.path.strip("/")
            text = f"{text}\n{turn.tr('link_continue_typed', bot=bot, code=code)}"
        turn.replies.append(OutboundMessage(text, buttons=(button,)))

    def _result(self, turn: Turn) -> None:
        result = str(turn.understanding.first("result") or "invalid")
        if turn.session.flow == self.name:
            turn.finish()
        elif turn.session.flow is not None:
            # Leave the flow as the dialogue suspended it: ending this one resumes it.
            turn.finish()
        turn.say(RESULT_TEMPLATES.get(result, "link_invalid"))

    async def _got_phone(self, turn: Turn, phone: str, *, unasked: bool = False) -> None:
        """A code to the messenger where ``phone`` is verified; ``unasked``: the customer gave
        it with no question asked (a shared contact), so a number nobody else verified is
        simply kept on the profile."""
        msg, now = turn.ctx.message, turn.ctx.now
        customer_id = turn.session.customer_id
        requested = await self.identity.request_phone_code(customer_id, phone, now)
        if isinstance(requested, LinkResult):
            if requested.status == "invalid":
                # nobody else has it: it is this profile's now (unverified when typed), and
                # no flow asks for it again
                if not msg.contact_verified:  # a verified one is on the profile already
                    await self.identity.remember_phone(customer_id, phone, now)
                note_contact(turn.session, phone=phone)
                turn.finish()
                saved = msg.contact_verified or unasked
                turn.say("link_phone_saved" if saved else "link_phone_unknown")
            elif requested.status == "rate_limited":
                turn.finish()
                turn.say("link_rate_limited")
            else:
                turn.finish()
                turn.say("link_unreachable")
            return
        code, target, owner, language = requested
        text = turn.t("link_code_message", language or turn.language, code=code)
        pending = await self.identity.store_outbound(owner, target, OutboundMessage(text), now)
        turn.ctx.to_send.append(pending)
        turn.goto(self.name, "await_code")
        turn.session.slots = {"phone": phone}
        turn.ask("link_code_sent", channel=_CHANNELS.get(target.channel, target.channel))

    async def _check_code(self, turn: Turn, code: str) -> None:
        msg = turn.ctx.message
        result, absorbed = await self.identity.confirm_phone_code(
            turn.session, msg.channel, msg.user_id, code, turn.ctx.now
        )
        if result.status == "invalid":
            turn.say("link_wrong_code")
            return
        if result.status in ("expired", "used"):
            turn.goto(self.name, "ask_phone")
            turn.session.slots = {}
            turn.say("link_expired")
            return
        phone = turn.session.slots.get("phone")
        turn.finish()
        turn.say(RESULT_TEMPLATES.get(result.status, "link_invalid"))
        if result.status in ("linked", "already"):
            # the profile it joined has a name and this phone: no flow asks for them again
            async with self.identity.db.session() as s:
                joined = await CustomerRepository(s).get(turn.session.customer_id)
            name = joined.display_name if joined is not None else None
            note_contact(turn.session, name=name, phone=phone)
        if result.status != "linked" or absorbed is None:
            return
        # The other profile's unfinished task (a booking started there) continues here,
        # unless this conversation has its own one waiting.
        if adoptable_by_code(turn.session, absorbed):
            continue_here(turn.session, absorbed)
            turn.ask_again()

    def _phone(self, turn: Turn) -> str | None:
        msg = turn.ctx.message
        if msg.contact_phone:
            return normalise_phone(msg.contact_phone)
        value = turn.understanding.first("phone")
        if value is not None:
            return normalise_phone(str(value))
        found = _PHONEISH.search(turn.text or "")
        return normalise_phone(found.group(0)) if found else None


def link_event_reply(
    t: Templates, status: str, language: str | None, session: Session | None
) -> OutboundMessage:
    """The answer to a link made by a platform event (Viber `context`, Instagram `ref`): what
    the link did and, when it joined the chats, the question of the task that goes on (with
    its buttons), so the customer can answer it right here. With ``t`` bound, the
    `bots.identity.events.LinkReply` that identity is given."""
    language = language if language in LANGUAGES else t.default_language
    text = t(RESULT_TEMPLATES.get(status, "link_invalid"), language)
    asked = session.slots.get(ASK) if session is not None and status == "linked" else None
    if not isinstance(asked, dict) or not isinstance(asked.get("key"), str):
        return OutboundMessage(text)
    values = {k: _local(v, language) for k, v in (asked.get("values") or {}).items()}
    buttons = tuple(
        Button(_local(title, language), pay) for title, pay in asked.get("buttons") or ()
    )
    question = t(asked["key"], language, **values)
    phone = bool(asked.get("phone"))
    return OutboundMessage(
        f"{text}\n\n{question}",
        buttons=buttons,
        request_phone=phone,
        phone_label=t("share_phone_button", language) if phone else None,
    )


def _local(value: Any, language: str | None) -> str:
    """`Turn.local` outside a turn: a text, or the one of ``language`` from a per-language map."""
    if isinstance(value, dict):
        return str(value.get(language) or value.get("en") or next(iter(value.values()), ""))
    return str(value)


def _named(text: str | None) -> str | None:
    """The messenger ``text`` names ("telegram", "viber", "instagram"), or None."""
    return next((c for c, said in _NAMED.items() if said.search(text or "")), None)


def asks_to_continue_in(text: str | None) -> bool:
    """Whether ``text`` asks to go on in a messenger it names ("continue in Telegram",
    "можна продовжити в телеграмі?"): account linking, whatever the NLU read it as."""
    return _CONTINUE.search(text or "") is not None and _named(text) is not None


def _code(text: str | None) -> str | None:
    found = _CODE.search(text or "")
    return found.group(1) + found.group(2) if found else None
