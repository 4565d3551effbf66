"""Account linking: "continue in Telegram/Viber/Instagram" links with a one-time code, a phone
number that a code sent to its verified messenger confirms, and the outcome of a link made
before the turn (a deep-link code, a shared contact: `bots.identity`)."""

from __future__ import annotations

import re

from bots.flows.base import Turn
from bots.flows.understanding import FALLBACK
from bots.identity import (
    LINKING_FLOW,
    IdentityService,
    LinkResult,
    adopt,
    normalise_phone,
)
from bots.messages import Button, OutboundMessage

_CODE = re.compile(r"(?<!\d)(\d{3})[\s-]?(\d{3})(?!\d)")
_PHONEISH = re.compile(r"\+?\d[\d\s()-]{7,}\d")
_RESULTS = {
    "linked": "link_done",
    "already": "link_already",
    "invalid": "link_invalid",
    "used": "link_expired",
    "expired": "link_expired",
    "rate_limited": "link_rate_limited",
}
_CHANNELS = {"telegram": "Telegram", "viber": "Viber", "instagram": "Instagram"}
SUSPENDED = "suspended"  # the dialogue's key for a flow interrupted by another


class LinkingFlow:
    """Intent `link_account` starts it; `link_result` (a payload the worker puts on a message
    whose deep link or contact was handled before the turn) reports what happened."""

    name = LINKING_FLOW
    intents = frozenset({"link_account", "link_result"})
    entity_triggers: frozenset[str] = frozenset()

    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity

    async def start(self, turn: Turn) -> None:
        if turn.understanding.intent == "link_result":
            self._result(turn)
            return
        turn.goto(self.name, "ask_phone")
        turn.session.slots = {}
        phone = self._phone(turn)
        if phone is not None:
            await self._got_phone(turn, phone)
            return
        links = await self.identity.continue_links(
            turn.session.customer_id, turn.ctx.now, exclude=turn.ctx.message.channel
        )
        turn.ask("link_ask_phone", request_phone=True)
        if links:
            # "Continue in Telegram": a link button carrying the one-time code in the
            # platform's deep link; the first message it opens there links the chats. It
            # comes last: Viber shows only the last message's keyboard.
            buttons = tuple(
                Button(turn.tr("link_continue_in", channel=_CHANNELS.get(c, c)), url=url)
                for c, url in links.items()
            )
            turn.say("link_offer", buttons=buttons)

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
        if u.intent not in ("inform", FALLBACK, "link_account"):
            return False  # a digression: the dialogue answers it and reminds
        if step == "await_code":
            turn.say("link_ask_code")
        else:
            turn.say("link_bad_phone")
        return True

    def remind(self, turn: Turn) -> None:
        if not turn.ask_again() and turn.session.step == "await_code":
            turn.say("link_ask_code")

    # ---- steps --------------------------------------------------------------------------------

    def _result(self, turn: Turn) -> None:
        result = str(turn.understanding.first("result") or "invalid")
        if turn.session.flow == self.name:
            turn.finish()
        elif turn.session.flow is not None:
            # Leave the flow as the dialogue suspended it: ending this one resumes it.
            turn.finish()
        turn.say(_RESULTS.get(result, "link_invalid"))

    async def _got_phone(self, turn: Turn, phone: str) -> None:
        msg, now = turn.ctx.message, turn.ctx.now
        requested = await self.identity.request_phone_code(turn.session.customer_id, phone, now)
        if isinstance(requested, LinkResult):
            if requested.status == "invalid" and msg.contact_verified:
                turn.finish()
                turn.say("link_phone_saved")  # nobody else has it: it is this profile's now
            elif requested.status == "invalid":
                turn.finish()
                turn.say("link_phone_unknown")
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
        turn.finish()
        turn.say(_RESULTS.get(result.status, "link_invalid"))
        if result.status != "linked" or absorbed is None:
            return
        # The other profile's unfinished task (a booking started there) continues here,
        # unless this conversation has its own one waiting.
        if absorbed.flow not in (None, self.name) and not turn.session.data.get(SUSPENDED):
            merged = adopt(turn.session, absorbed)
            turn.session.flow, turn.session.step = merged.flow, merged.step
            turn.session.slots = merged.slots
            for key, value in merged.data.items():
                turn.session.data.setdefault(key, value)
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


def _code(text: str | None) -> str | None:
    found = _CODE.search(text or "")
    return found.group(1) + found.group(2) if found else None
