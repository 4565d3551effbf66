"""Reschedule and cancel: the customer's upcoming bookings (choose one when there are several),
a new time (reschedule), confirmation; the old time is released by the backend. Asked which
visits they have ("коли мій запис?", `bots.flows.bookings_question`), the customer is shown
them, with buttons to move or cancel one.

Slots (JSON): ``mode`` ("cancel" | "reschedule"), ``booking`` (reference), ``service``,
``staff_id``, and for rescheduling ``date``, ``time``, ``starts_at`` (see `bots.flows.when`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from bots.flows.backends import BookingBackend, BookingView
from bots.flows.base import DIGRESSIONS, Localised, Turn, payload
from bots.flows.bookings_question import CHECK_BOOKINGS
from bots.flows.when import TimePicker, day_said, day_values, local_moment, read_when, slot_title
from storage.booking_errors import BookingNotFound, InvalidSlot, SlotTaken
from storage.errors import Conflict

# Intents a customer's "can I come at 3?" may be read as while a visit is being moved.
BOOKING_INTENTS = frozenset({"book_appointment", "reschedule_appointment"})
# "Same time as before", "в той самий час", "о тій же годині": the visit's own time of day, on
# the new day (trial 4, G1: read as account linking, which then asked for a phone).
_SAME_TIME = re.compile(
    r"(?<!\w)(?:same\s+(?:time|hour)|same\s+as\s+(?:before|now|it\s+was)|(?:той|тій|ту|тієї|тим|та)"
    r"\s+(?:самий|самій|саму|самої|самим|сама|же|ж)\s+(?:час|годині|годину|години|година|часом))"
    r"(?!\w)",
    re.IGNORECASE,
)
# "Nvm, keep it", "хоча ні, залиште як є": the visit stays as it is (trial 4, G15).
_KEEP = re.compile(
    r"(?<!\w)(?:keep\s+(?:it|the\s+(?:visit|booking|appointment|old\s+one))|leave\s+it"
    r"|(?:as|like)\s+it\s+(?:is|was)|nvm|never\s*mind|forget\s+it|changed\s+my\s+mind"
    r"|no\s+need|don'?t\s+(?:move|change|reschedule)\s+it|залиш\w*|як\s+(?:є|було)"
    r"|не\s+треба|не\s+потрібно|не\s+переносьте|не\s+скасовуйте|не\s+скасовувати"
    r"|don'?t\s+cancel(?:\s+it)?|передумал\w*)(?!\w)",
    re.IGNORECASE,
)
_REFERENCE = re.compile(r"\bBK-?[A-Z0-9]{6}\b", re.IGNORECASE)
MAX_LISTED = 8  # visits listed, as many as `_ask_which` offers buttons for
# session.data: the visit cancelled by the last message (its service, start, title), for one turn
JUST_CANCELLED = "just_cancelled"


class ManageBookingFlow:
    name = "manage_booking"
    intents = frozenset({"reschedule_appointment", "cancel_appointment", CHECK_BOOKINGS})
    entity_triggers: frozenset[str] = frozenset()
    stop_key = "manage_stopped"  # stopped: the visit is said to stay as it was

    def __init__(self, backend: BookingBackend, timezone: str) -> None:
        self.backend = backend
        self.tz = ZoneInfo(timezone)
        self.picker = TimePicker(backend, self.tz)

    async def start(self, turn: Turn) -> None:
        if turn.understanding.intent == CHECK_BOOKINGS:
            await self._list(turn)
            return
        mode = "cancel" if turn.understanding.intent == "cancel_appointment" else "reschedule"
        turn.finish()
        turn.goto(self.name, "choose")
        turn.session.slots["mode"] = mode
        bookings = await self._upcoming(turn)
        # a button that names its visit (a reminder's "reschedule"): that one, or none at all
        named = turn.understanding.first("booking") if turn.understanding.from_button else None
        if named and self._pick(turn, bookings) is None:
            turn.finish()
            turn.say("manage_gone", reference=str(named))
            return
        if not bookings:
            turn.finish()
            turn.say("manage_none", buttons=turn.menu("manage_none_buttons"))
            return
        chosen = self._pick(turn, bookings) or (bookings[0] if len(bookings) == 1 else None)
        if chosen is None:
            self._ask_which(turn, bookings)
            return
        await self._chosen(turn, chosen)

    async def step(self, turn: Turn) -> bool:
        slots, step = turn.session.slots, turn.session.step
        intent = turn.understanding.intent
        if step == "rebook":
            return self._rebook(turn)
        if self._keeps(turn):
            # at "which visit to cancel?" none was chosen: nothing cancelled (trial 5, G5)
            none = step == "choose" and slots.get("mode") == "cancel"
            turn.finish()
            turn.say("manage_kept_none" if none else "manage_kept")
            return True
        if step == "choose":
            bookings = await self._upcoming(turn)
            chosen = self._pick(turn, bookings)
            if chosen is not None:
                await self._chosen(turn, chosen)
                return True
        elif self._picking(step, slots) and self._new_time(turn, slots):
            await self._settle(turn)
            return True
        if intent in DIGRESSIONS:
            return False
        if step == "confirm" and intent == "affirm":
            await self._act(turn)
            return True
        if step == "confirm" and intent == "deny" and slots["mode"] == "reschedule":
            for key in ("date", "time", "starts_at"):
                slots.pop(key, None)
            await self._settle(turn)
            return True
        if step == "confirm" and intent == "deny":
            turn.finish()
            turn.say("manage_kept")
            return True
        if intent == "cancel_appointment" and slots.get("mode") == "reschedule":
            await self._cancel_instead(turn)
            return True
        if intent in ("affirm", "deny", *self.intents):
            self.remind(turn)
            return True
        if turn.miss():
            turn.say("fallback_twice")
            turn.escalate("repeated_misunderstanding")
            return True
        turn.say("booking_not_understood")
        turn.ask_again()
        return True

    def remind(self, turn: Turn) -> None:
        turn.ask_again()

    def _rebook(self, turn: Turn) -> bool:
        """The answer to "already cancelled; book it again?": yes starts a booking of the same
        service at the same time (the message read as that request); anything else is routed
        as usual."""
        slots, u = turn.session.slots, turn.understanding
        turn.finish()
        if u.intent == "affirm":
            u.intent = "book_appointment"
            u.entities = {"service": [slots["service"]], "time": [slots["starts_at"]]}
            u.texts = {}
            return False
        if u.intent == "deny" or self._keeps(turn):
            turn.say("manage_rebook_declined")
            return True
        return False

    async def _cancel_instead(self, turn: Turn) -> None:
        """ "Actually, cancel it" while a new time is asked (trial F26: the time question
        repeated until "stop"): the same visit, to be cancelled, asked to confirm."""
        slots = turn.session.slots
        slots["mode"] = "cancel"
        for key in ("date", "time", "starts_at"):
            slots.pop(key, None)
        bookings = await self._upcoming(turn)
        chosen = next((b for b in bookings if b.reference == slots.get("booking")), None)
        if chosen is not None:
            await self._chosen(turn, chosen)
        elif bookings:
            turn.session.step = "choose"
            self._ask_which(turn, bookings)
        else:
            turn.finish()
            turn.say("manage_none", buttons=turn.menu("manage_none_buttons"))

    def claims(self, turn: Turn) -> bool:
        """A day or time read as a new booking ("можна о 15?", "can I come tomorrow?") while
        a visit is chosen or its new time is asked: it answers this flow's question; so do
        "the same time" and "keep it as it is", whatever they were read as."""
        u = turn.understanding
        step, slots = turn.session.step, turn.session.slots
        if u.from_button:
            return False
        if (
            step == "rebook"
            or self._keeps(turn)
            or (self._picking(step, slots) and _said_same_time(turn))
        ):
            return True
        if u.intent not in BOOKING_INTENTS or not u.entities.get("time"):
            return False
        return step == "choose" or self._picking(step, slots)

    @staticmethod
    def _keeps(turn: Turn) -> bool:
        """Whether the message says to keep the visit as it is ("nvm, keep it"), with no new
        day or time in it, nor "the same time"."""
        u = turn.understanding
        said = not u.from_button and _KEEP.search(turn.text or "") is not None
        return said and not u.entities.get("time") and not _said_same_time(turn)

    def _new_time(self, turn: Turn, slots: dict[str, Any]) -> bool:
        """A new day and/or time from the message into ``slots``, "the same time" (with no
        time of day named beside it) being the visit's own; True if anything changed."""
        changed = self.picker.apply(turn, slots)
        named = read_when(turn, self.tz)[1] is not None
        same = slots.get("current_time") if _said_same_time(turn) and not named else None
        if same and same != slots.get("time"):
            slots["time"], changed = same, True
            slots.pop("starts_at", None)
        return changed

    @staticmethod
    def _picking(step: str | None, slots: dict[str, Any]) -> bool:
        return step in ("date", "time") or (step == "confirm" and slots["mode"] == "reschedule")

    # ---- choosing --------------------------------------------------------------------------

    async def _upcoming(self, turn: Turn) -> list[BookingView]:
        if turn.ctx.customer_id is None:
            return []
        return await self.backend.upcoming_for_customer(turn.ctx.customer_id, now=turn.ctx.now)

    def _pick(self, turn: Turn, bookings: list[BookingView]) -> BookingView | None:
        """The booking the message names: by reference, or by a date only one booking has."""
        wanted = turn.understanding.first("booking")
        if wanted is None and turn.text:
            found = _REFERENCE.search(turn.text)
            wanted = found.group(0) if found else None
        if wanted is not None:
            ref = str(wanted).upper().replace("BK", "").lstrip("-")
            return next((b for b in bookings if b.reference.endswith(ref)), None)
        day, at = read_when(turn, self.tz)
        if day is None:
            return None
        same = [b for b in bookings if b.starts_at.astimezone(self.tz).date().isoformat() == day]
        if at is not None and len(same) > 1:
            same = [b for b in same if f"{b.starts_at.astimezone(self.tz):%H:%M}" == at]
        return same[0] if len(same) == 1 else None

    async def _list(self, turn: Turn) -> None:
        """The customer's upcoming visits with their references, and what can be done next."""
        turn.finish()
        bookings = await self._upcoming(turn)
        if not bookings:
            turn.say("manage_none", buttons=turn.menu("manage_none_buttons"))
            return
        visits = "\n".join(
            f"• {turn.local(self._title(turn, b))} ({b.reference})" for b in bookings[:MAX_LISTED]
        )
        turn.say("manage_list", menu="manage_list_buttons", visits=visits)

    def _ask_which(self, turn: Turn, bookings: list[BookingView]) -> None:
        buttons: list[tuple[Localised, str]] = [
            (self._title(turn, b), payload("inform", booking=b.reference))
            for b in bookings[:MAX_LISTED]
        ]
        key = "manage_which_cancel" if turn.session.slots["mode"] == "cancel" else "manage_which"
        turn.ask(key, buttons=buttons)

    def _title(self, turn: Turn, b: BookingView) -> dict[str, str]:
        when = slot_title(b.starts_at, self.tz, turn)
        return {
            "uk": f"{b.service_name_uk}, {when['uk']}",
            "en": f"{b.service_name_en}, {when['en']}",
        }

    async def _chosen(self, turn: Turn, booking: BookingView) -> None:
        slots = turn.session.slots
        slots.update(
            booking=booking.reference, service=booking.service_code, staff_id=booking.staff_id
        )
        slots["current"] = self._title(turn, booking)
        slots["current_time"] = f"{booking.starts_at.astimezone(self.tz):%H:%M}"
        slots["starts_at_old"] = booking.starts_at.astimezone(self.tz).isoformat()
        if slots["mode"] == "cancel":
            turn.session.step = "confirm"
            turn.ask(
                "manage_cancel_confirm",
                buttons=self._yes_no(turn),
                booking=slots["current"],
                reference=booking.reference,
            )
            return
        self.picker.apply(turn, slots)
        await self._settle(turn)

    # ---- rescheduling ----------------------------------------------------------------------

    async def _settle(self, turn: Turn) -> None:
        slots = turn.session.slots
        if not slots.get("date") and not slots.get("time"):
            turn.say("manage_new_time", booking=turn.local(slots["current"]))
        if not await self.picker.settle(turn, slots, slots["service"], staff_id=slots["staff_id"]):
            return
        moment = local_moment(slots, self.tz)
        assert moment is not None
        turn.session.step = "confirm"
        turn.ask(
            "manage_reschedule_confirm",
            buttons=self._yes_no(turn),
            booking=slots["current"],
            **day_values(moment.date(), turn.t),
            time=slots["time"],
        )

    @staticmethod
    def _yes_no(turn: Turn) -> list[tuple[Localised, str]]:
        """The confirmation's buttons: "Yes, cancel it" or "Yes, move it", and "No"."""
        yes = "cancel" if turn.session.slots["mode"] == "cancel" else "move"
        titles = {lang: turn.t.raw("manage_confirm_buttons", lang) for lang in ("uk", "en")}
        return [
            ({lang: str(t[yes]) for lang, t in titles.items()}, "/affirm"),
            ({lang: str(t["no"]) for lang, t in titles.items()}, "/deny"),
        ]

    async def _act(self, turn: Turn) -> None:
        slots = turn.session.slots
        reference = slots["booking"]
        try:
            if slots["mode"] == "cancel":
                await self.backend.cancel(reference)
                turn.session.data[JUST_CANCELLED] = {
                    "reference": reference,
                    "service": slots["service"],
                    "starts_at": slots["starts_at_old"],
                    "current": slots["current"],
                }
                turn.finish()
                turn.say("manage_cancelled", reference=reference)
                return
            moment = dt.datetime.fromisoformat(slots["starts_at"])
            booking = await self.backend.reschedule(reference, moment)
        except (SlotTaken, InvalidSlot):
            for key in ("time", "starts_at"):
                slots.pop(key, None)
            turn.say("slot_gone")
            await self._settle(turn)
            return
        except (BookingNotFound, Conflict):
            turn.finish()
            turn.say("manage_gone", reference=reference)
            return
        local = booking.starts_at.astimezone(self.tz)
        turn.finish()
        turn.say(
            "manage_rescheduled",
            reference=reference,
            **day_said(local.date(), turn),
            time=f"{local:%H:%M}",
        )


def kept_after_cancel(turn: Turn) -> bool:
    """ "Хоча ні, залиште" / "nvm, keep it" right after a visit was cancelled (trial 5, G4: "OK"
    read as kept): it is said to be cancelled already, and booking it again is offered."""
    cancelled = turn.session.data.pop(JUST_CANCELLED, None)
    if not cancelled or turn.session.flow is not None or not ManageBookingFlow._keeps(turn):
        return False
    turn.goto(ManageBookingFlow.name, "rebook")
    turn.session.slots = {"service": cancelled["service"], "starts_at": cancelled["starts_at"]}
    yes_no = [(turn.t.raw("manage_rebook_buttons", lang), lang) for lang in ("uk", "en")]
    buttons: list[tuple[Localised, str]] = [
        ({lang: str(t["yes"]) for t, lang in yes_no}, "/affirm"),
        ({lang: str(t["no"]) for t, lang in yes_no}, "/deny"),
    ]
    turn.ask(
        "manage_already_cancelled",
        buttons=buttons,
        reference=cancelled["reference"],
        booking=cancelled["current"],
    )
    return True


def _said_same_time(turn: Turn) -> bool:
    return not turn.understanding.from_button and _SAME_TIME.search(turn.text or "") is not None
