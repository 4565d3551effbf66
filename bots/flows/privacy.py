"""The customer's own privacy requests in the chat (issue 16).

- ``data_request`` ("what data do you have about me", "які дані ви про мене зберігаєте?"): a
  short summary (counts and channels); on a channel that vouched for one of the customer's
  phones, the offer of a copy, and after a yes a signed link to the JSON export (valid for an
  hour). Elsewhere the customer is told to confirm their phone first.
- ``forget_me`` ("forget me", "забудьте мене"): confirmation buttons; after a yes the erasure
  job is requested and the last message says it is under way. The job starts at once but runs
  under the customer's lock, so it begins after this turn is stored (its messages are erased
  too) and after the reply is handed to the outbox. A legal hold refuses it, politely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bots.flows.base import Turn
from bots.flows.engine import SUSPENDED
from bots.privacy.erasure import LegalHoldRefused

if TYPE_CHECKING:
    import asyncio
    from typing import Any

__all__ = ["PRIVACY_FLOW", "PrivacyFlow", "PrivacyRequests"]

PRIVACY_FLOW = "privacy"
_CONFIRM = "confirm"  # the dialogue's yes/no step name (a short, unsure "yes" still counts)
_YES, _NO = "/affirm", "/deny"


class PrivacyRequests(Protocol):
    """What the flow needs of `bots.privacy.service.PrivacyService`."""

    async def summary(self, customer_id: int) -> dict[str, Any]: ...

    async def verified_here(self, customer_id: int, channel: str) -> bool: ...

    def export_link(self, customer_id: int) -> str | None: ...

    async def request_erasure(self, customer_id: int, actor: str) -> Any: ...

    def start(self, job_id: int) -> asyncio.Task[Any]: ...


class PrivacyFlow:
    """`data_request` and `forget_me`, each with one yes/no question."""

    name = PRIVACY_FLOW
    intents = frozenset({"data_request", "forget_me"})
    entity_triggers: frozenset[str] = frozenset()

    def __init__(self, requests: PrivacyRequests) -> None:
        self.requests = requests

    async def start(self, turn: Turn) -> None:
        customer_id = turn.session.customer_id
        if turn.understanding.intent == "forget_me":
            turn.goto(self.name, _CONFIRM)
            turn.session.slots = {"what": "erase"}
            turn.ask("privacy_erase_confirm", buttons=_buttons(turn, "privacy_erase_buttons"))
            return
        counts = await self.requests.summary(customer_id)
        channels = ", ".join(str(c).capitalize() for c in counts["channels"]) or "-"
        turn.say(
            "privacy_summary",
            channels=channels,
            messages=counts["messages"],
            bookings=counts["bookings"],
            orders=counts["orders"],
            tickets=counts["tickets"],
        )
        if self.requests.export_link(customer_id) is None:
            turn.finish()  # no copy can be sent from here: none is offered
            turn.say("privacy_export_unavailable")
        elif await self.requests.verified_here(customer_id, turn.ctx.message.channel):
            turn.goto(self.name, _CONFIRM)
            turn.session.slots = {"what": "export"}
            turn.ask("privacy_export_offer", buttons=_buttons(turn, "privacy_export_buttons"))
        else:
            turn.finish()
            turn.say("privacy_export_verify_first")

    async def step(self, turn: Turn) -> bool:
        intent = turn.understanding.intent
        if intent not in ("affirm", "deny"):
            return False  # a digression: the dialogue answers it, then asks again
        what = turn.session.slots.get("what")
        turn.finish()
        if intent == "deny":
            turn.say("privacy_erase_kept" if what == "erase" else "privacy_export_declined")
        elif what == "erase":
            await self._erase(turn)
        else:
            self._export(turn)
        return True

    def remind(self, turn: Turn) -> None:
        turn.ask_again()

    def _export(self, turn: Turn) -> None:
        link = self.requests.export_link(turn.session.customer_id)
        if link is None:
            turn.say("privacy_export_unavailable")
        else:
            turn.say("privacy_export_link", link=link)

    async def _erase(self, turn: Turn) -> None:
        customer_id = turn.session.customer_id
        try:
            job = await self.requests.request_erasure(customer_id, f"customer:{customer_id}")
        except LegalHoldRefused:
            turn.say("privacy_erase_refused")
            return
        self.requests.start(job.id)
        # the goodbye is the last word: no task interrupted by the request is taken up again
        turn.session.data.pop(SUSPENDED, None)
        turn.ctx.tasks.stop()
        turn.say("privacy_erase_started")


def _buttons(turn: Turn, key: str) -> list[tuple[dict[str, str] | str, str]]:
    titles = {lang: turn.t.raw(key, lang) for lang in ("uk", "en")}
    return [
        ({lang: str(t["yes"]) for lang, t in titles.items()}, _YES),
        ({lang: str(t["no"]) for lang, t in titles.items()}, _NO),
    ]
