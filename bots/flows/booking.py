"""Booking: service -> date -> time (nearest free times offered) -> name and phone when unknown
-> summary -> confirmation -> booking reference.

Any message may fill several slots ("a cleaning tomorrow at 3pm") or correct one ("no, make it
Friday"); the flow then asks for whatever is still missing. Slots (JSON): ``service``,
``date``, ``time``, ``starts_at``, ``name``, ``phone``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from bots.flows.backends import BookingBackend, ServiceView
from bots.flows.base import DIGRESSIONS, Turn, payload
from bots.flows.business import match_services
from bots.flows.corrections import part_named
from bots.flows.names import local_name, read_name, read_name_at_step
from bots.flows.phones import TYPOS_BEFORE_HANDOFF, mistyped_phone, read_phone
from bots.flows.when import TimePicker, day_said, day_values, local_moment
from bots.identity.sessions import note_contact
from bots.messages import Button
from storage.booking_errors import InvalidSlot, SlotTaken, UnknownService
from storage.errors import StorageError

log = logging.getLogger(__name__)

CHANGEABLE = ("service", "date", "time", "name", "phone")
REFUSED_NAME = "_refused_name"  # slot: the text last refused at the name step
PHONE_TYPOS = "_phone_typos"  # slot: mistyped phone numbers in a row
CHANGING = "_changing"  # slot: "What would you like to change?" was the last question


class ContactBook(Protocol):
    """Where the name and phone of a booking are kept beyond the session: the customer
    profile (`bots.identity.service.ProfileContacts`)."""

    async def remember(
        self, customer_id: int, *, name: str | None, phone: str | None, now: dt.datetime
    ) -> None: ...


class BookingFlow:
    name = "booking"
    intents = frozenset({"book_appointment"})
    entity_triggers = frozenset({"service"})

    def __init__(
        self, backend: BookingBackend, timezone: str, contacts: ContactBook | None = None
    ) -> None:
        self.backend = backend
        self.tz = ZoneInfo(timezone)
        self.picker = TimePicker(backend, self.tz)
        self.contacts = contacts

    async def start(self, turn: Turn) -> None:
        turn.finish()
        turn.goto(self.name, "service")
        await self._absorb(turn, turn.session.slots)
        await self._advance(turn)

    async def step(self, turn: Turn) -> bool:
        slots = turn.session.slots
        intent = turn.understanding.intent
        changing = bool(slots.pop(CHANGING, False))
        if intent == "change" and turn.understanding.from_button:
            which = turn.understanding.first("slot")
            self._drop(slots, which)
            await self._advance(turn)
            return True
        step = turn.session.step
        before = {k: slots.get(k) for k in CHANGEABLE if k != "phone"}
        changed = await self._absorb(turn, slots)
        name = self._typed_name(turn, step, slots)
        if name and all(slots.get(k) == v for k, v in before.items()):
            # a name, maybe with the phone beside it ("Олена Петренко 0671234567")
            slots["name"], changed = name, True
            slots.pop(REFUSED_NAME, None)
            if not slots.get("phone") and (digits := mistyped_phone(turn.text)):
                self._phone_typo(turn, digits)
        if changed:
            self._acknowledge(turn, step, before)
            await self._advance(turn)
            return True
        if step == "confirm" and (which := self._part_named(turn, changing)):
            self._drop(slots, which)  # "the time", "змінити ім'я": as its button would
            await self._advance(turn)
            return True
        if intent in DIGRESSIONS:
            return False
        if step == "confirm" and intent == "affirm":
            await self._book(turn)
            return True
        if step == "confirm" and intent == "deny":
            slots[CHANGING] = True
            turn.say("booking_change_what", buttons=self._change_buttons(turn))
            return True
        if step == "service" and intent == "deny" and "name" not in slots:
            # "no" to the first "which service?" (the summary was never shown, so this is no
            # change of service): the customer did not want to book after all
            turn.finish()
            turn.say("stopped", menu="greet_buttons")
            return True
        if intent in ("affirm", "deny", "book_appointment"):
            self.remind(turn)
            return True
        if step == "phone" and (digits := mistyped_phone(turn.text)):
            if not self._phone_typo(turn, digits):
                turn.ask_again()
            return True
        if turn.miss():
            turn.say("fallback_twice")
            turn.escalate("repeated_misunderstanding")
            return True
        if step == "name":
            slots[REFUSED_NAME] = turn.text  # the same again is taken: a name after all
        turn.say(f"invalid_{step}" if step in ("name", "phone") else "booking_not_understood")
        turn.ask_again()
        return True

    def remind(self, turn: Turn) -> None:
        phone = self._known_phone(turn) if turn.session.step == "phone" else None
        if phone:  # given meanwhile (shared to link accounts): not asked for again
            go_on = Button(turn.tr("booking_phone_go_on"), "/affirm")
            turn.say("booking_phone_known", buttons=(go_on,), phone=phone)
            return
        turn.ask_again()

    @staticmethod
    def _known_phone(turn: Turn) -> str | None:
        """A phone given in this session (a booking, linking accounts) or on the profile."""
        profile = turn.session.data.get("profile") or {}
        return profile.get("phone") or turn.ctx.customer_phone

    def claims(self, turn: Turn) -> bool:
        """A name at the name step, or "make it Friday instead" (read as rescheduling)."""
        if turn.understanding.intent == "reschedule_appointment":
            return True
        if turn.session.step == "confirm":
            return self._part_named(turn, bool(turn.session.slots.get(CHANGING))) is not None
        return turn.session.step == "name" and self._name(turn) is not None

    @staticmethod
    def _part_named(turn: Turn, asked: bool) -> str | None:
        """The part of the booking a typed correction names (`bots.flows.corrections`)."""
        return None if turn.understanding.from_button else part_named(turn.text, asked=asked)

    @staticmethod
    def _name(turn: Turn) -> str | None:
        """A name, not a request typed where the name is asked for (`bots.flows.names`); or
        the text refused as one, typed again after "only the name, please" ("Olha Code")."""
        again = turn.text is not None and turn.text == turn.session.slots.get(REFUSED_NAME)
        name = read_name(turn.text) if again else None
        return name or read_name_at_step(turn.text, turn.understanding, turn.t)

    def _typed_name(self, turn: Turn, step: str | None, slots: dict[str, Any]) -> str | None:
        """The name a message gives: at the name step, or beside the number at the phone step
        ("Olena Petrenko +380671234567"), where it replaces the name the messenger gave: the
        customer's own words win (trial 4, G3)."""
        if step == "name" and "name" not in slots:
            return self._name(turn)
        if step != "phone" or read_phone(turn) is None:
            return None
        name = read_name_at_step(turn.text, turn.understanding, turn.t)
        return name if name != slots.get("name") else None

    @staticmethod
    def _phone_typo(turn: Turn, digits: str) -> bool:
        """Explain a mistyped phone number (`bots.flows.phones`); True when it is one typo too
        many in a row and a person is asked for instead."""
        slots = turn.session.slots
        slots[PHONE_TYPOS] = int(slots.get(PHONE_TYPOS, 0)) + 1
        if slots[PHONE_TYPOS] >= TYPOS_BEFORE_HANDOFF:
            turn.say("phone_typos_handoff")
            turn.escalate("repeated_misunderstanding")
            return True
        turn.say("phone_typo", count=len(digits))
        return False

    @staticmethod
    def _acknowledge(turn: Turn, step: str | None, before: dict[str, Any]) -> None:
        """A day or time corrected while another question is open ("хоча ні, краще в пʼятницю"
        at the service question): said back before the question is asked again (trial 5, G14);
        at the summary, the new summary says it."""
        slots = turn.session.slots
        if step in ("date", "time", "confirm"):
            return
        fixed = [k for k in ("date", "time") if before.get(k) and slots.get(k) != before[k]]
        if not fixed or not all(slots.get(k) for k in fixed):
            return
        day = day_said(dt.date.fromisoformat(slots["date"]), turn) if "date" in fixed else None
        if day and "time" in fixed:
            turn.say("booking_noted_day_time", **day, time=slots["time"])
        elif day:
            turn.say("booking_noted_day", **day)
        else:
            turn.say("booking_noted_time", time=slots["time"])

    # ---- slots ---------------------------------------------------------------------------

    async def _absorb(self, turn: Turn, slots: dict[str, Any]) -> bool:
        """Every slot the message gives; True when any slot changed."""
        changed = False
        if turn.session.step not in ("name", "phone") or turn.understanding.from_button:
            service = await self._service_from(turn)
            if service is not None and service != slots.get("service"):
                slots["service"], changed = service, True
                slots.pop("starts_at", None)
                slots.pop("_choices", None)
        if self.picker.apply(turn, slots):
            changed = True
        phone = read_phone(turn)
        if phone is None and turn.session.step == "phone" and turn.understanding.intent == "affirm":
            phone = self._known_phone(turn)  # "go on" with the phone given meanwhile
        if phone is not None and phone != slots.get("phone"):
            slots["phone"], changed = phone, True
            slots.pop(PHONE_TYPOS, None)
        return changed

    async def _service_from(self, turn: Turn) -> str | None:
        given = turn.understanding.first("service")
        services = await self.backend.services()
        codes = {s.code for s in services}
        if given in codes:
            return str(given)
        choices = turn.session.slots.get("_choices")
        candidates = [s for s in services if s.code in choices] if choices else services
        found = match_services(turn.text, candidates) or (
            match_services(str(given), services) if given else []
        )
        if len(found) == 1:
            return found[0].code
        if 1 < len(found) < len(services):
            turn.session.slots["_choices"] = [s.code for s in found]  # "чистка": which one?
        return None

    @staticmethod
    def _drop(slots: dict[str, Any], which: Any) -> None:
        if which in ("name", "phone"):
            # emptied, not removed: `_advance` would fill it again from the profile, and the
            # customer who asked to change it would see the same name or phone again
            slots[str(which)] = ""
        elif which in CHANGEABLE:
            slots.pop(str(which), None)
            slots.pop("starts_at", None)

    # ---- asking --------------------------------------------------------------------------

    async def _advance(self, turn: Turn) -> None:
        """Ask for the first missing slot, or show the summary."""
        session, slots = turn.session, turn.session.slots
        # the name and phone typed so far, kept beyond this booking: a booking started again
        # (after a handoff, trial 3's T14) and a call back do not ask for them again
        note_contact(session, name=slots.get("name"), phone=slots.get("phone"))
        services = await self.backend.services()
        if not slots.get("service"):
            session.step = "service"
            await self._ask_service(turn, services)
            return
        service = next((s for s in services if s.code == slots["service"]), None)
        if service is None:
            slots.pop("service", None)
            session.step = "service"
            await self._ask_service(turn, services)
            return
        if not await self.picker.settle(turn, slots, service.code):
            return
        profile = session.data.get("profile") or {}
        slots.setdefault("name", profile.get("name") or turn.ctx.customer_name)
        slots.setdefault("phone", self._known_phone(turn))
        if not slots.get("name"):
            slots.pop("name", None)
            session.step = "name"
            turn.ask("ask_name")
            return
        if not slots.get("phone"):
            slots.pop("phone", None)
            session.step = "phone"
            turn.ask("ask_phone", request_phone=True)
            return
        session.step = "confirm"
        self._summary(turn, service)

    async def _ask_service(self, turn: Turn, services: list[ServiceView]) -> None:
        choices = turn.session.slots.get("_choices")
        shown = [s for s in services if s.code in choices] if choices else services
        buttons = [
            ({"uk": s.name_uk, "en": s.name_en}, payload("inform", service=s.code)) for s in shown
        ]
        turn.ask("ask_service", buttons=buttons)

    def _summary(self, turn: Turn, service: ServiceView) -> None:
        slots = turn.session.slots
        moment = local_moment(slots, self.tz)
        assert moment is not None
        turn.ask(
            "booking_summary",
            buttons=[
                (self._titles(turn, "yes"), "/affirm"),
                (self._titles(turn, "change"), "/deny"),
                (self._titles(turn, "cancel"), "/stop"),
            ],
            service={"uk": service.name_uk, "en": service.name_en},
            **day_values(moment.date(), turn.t),
            time=slots["time"],
            name=slots["name"],
            phone=slots["phone"],
            price=f"{service.price:.0f}",
        )

    @staticmethod
    def _titles(turn: Turn, key: str) -> dict[str, str]:
        return {lang: str(turn.t.raw("confirm_buttons", lang)[key]) for lang in ("uk", "en")}

    def _change_buttons(self, turn: Turn) -> tuple[Button, ...]:
        titles = turn.t.raw("change_buttons", turn.language)
        return tuple(Button(str(titles[k]), payload("change", slot=k)) for k in CHANGEABLE)

    # ---- acting --------------------------------------------------------------------------

    async def _remember_contact(self, turn: Turn) -> None:
        """The confirmed name and phone onto the customer profile (the phone unverified). The
        booking is made by now: a storage failure here is logged, never undoes or repeats it."""
        customer_id = turn.ctx.customer_id
        if self.contacts is None or customer_id is None:
            return
        slots = turn.session.slots
        try:
            await self.contacts.remember(
                customer_id, name=slots.get("name"), phone=slots.get("phone"), now=turn.ctx.now
            )
        except (StorageError, SQLAlchemyError) as e:
            log.warning("customer %s: contact details not kept on the profile: %r", customer_id, e)

    async def _book(self, turn: Turn) -> None:
        slots = turn.session.slots
        starts_at = dt.datetime.fromisoformat(slots["starts_at"])
        try:
            booking = await self.backend.book(
                slots["service"],
                starts_at,
                customer_id=turn.ctx.customer_id,
                name=slots.get("name"),
                phone=slots.get("phone"),
            )
        except (SlotTaken, InvalidSlot):
            # Someone else was faster: offer the nearest free times instead.
            slots.pop("starts_at", None)
            turn.say("slot_gone")
            await self._advance(turn)
            return
        except UnknownService:
            slots.pop("service", None)
            await self._advance(turn)
            return
        turn.session.data["profile"] = {"name": slots.get("name"), "phone": slots.get("phone")}
        await self._remember_contact(turn)
        local = booking.starts_at.astimezone(self.tz)
        turn.finish()
        turn.say(
            "booked",
            reference=booking.reference,
            service=booking.service_name_uk if turn.language == "uk" else booking.service_name_en,
            **day_said(local.date(), turn),
            time=f"{local:%H:%M}",
            staff=local_name(booking.staff_name, booking.staff_names, turn.language),
        )
