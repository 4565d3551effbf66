"""What simulated customers say, the demo business's facts, and the run's constants."""

from __future__ import annotations

import re

from tests.conversations.runner import FROZEN_NOW, KYIV

MAX_TURNS = 12  # customer messages per task
MAX_REPHRASES = 2  # new openings when the bot drops the request
TRANSCRIPTS = 20  # failed tasks whose transcript goes into the JSON
SEED = 20260310
TODAY = FROZEN_NOW.astimezone(KYIV).date()  # Tuesday 10.03.2026
NOISE = 0.3  # share of customer messages with casing or a typo
TAP_AFTER_MISS = 0.5  # a "yes" the bot did not get: the share who then tap the yes button
LANGUAGES = ("en", "uk")

# ---- what customers say ------------------------------------------------------------------------

# The demo clinic's services as customers name them (not only the catalogue names).
SERVICE_PHRASES = {
    "en": {
        "cleaning": ["teeth cleaning", "a cleaning", "dental cleaning", "professional cleaning"],
        "consultation": ["a consultation", "dental consultation", "a dentist consultation",
                         "a checkup with the dentist"],
        "filling": ["a filling", "tooth filling", "a filling for a cavity", "a new filling"],
        "whitening": ["whitening", "teeth whitening", "tooth whitening"],
        "facial": ["a facial", "facial cleansing", "face cleaning"],
    },
    "uk": {
        "cleaning": ["чистку зубів", "чистка зубів", "професійну чистку зубів", "чистку зубів"],
        "consultation": ["консультацію", "консультація стоматолога", "огляд у стоматолога",
                         "консультацію лікаря"],
        "filling": ["пломбу", "пломбування", "пломбування зуба", "пломбу на зуб"],
        "whitening": ["відбілювання", "відбілювання зубів", "відбілювання"],
        "facial": ["чистку обличчя", "чистка обличчя", "чистку обличчя"],
    },
}  # fmt: skip
SERVICE_ANSWER = {
    "en": ["{s}", "{s} please", "I need {s}", "{s}, please", "I'd like {s}"],
    "uk": ["{s}", "{s} будь ласка", "мені на {s}", "хочу на {s}", "на {s}"],
}
WHEN_ANSWER = {
    "en": ["{w}", "{w} please", "{w} would be great", "can I come {w}?"],
    "uk": ["{w}", "{w} будь ласка", "можна {w}?", "мені зручно {w}"],
}
NAMES = {
    "en": ["Olena Petrenko", "my name is Taras Bondarenko", "Iryna", "It's Maksym Koval",
           "Anna Shevchuk"],
    "uk": ["Олена Петренко", "мене звати Тарас Бондаренко", "Ірина", "Максим Коваль",
           "моє ім'я Анна Шевчук"],
}  # fmt: skip
PHONES = {
    "en": ["+380501234567", "050 123 45 67", "0671234567", "my number is 093 111 22 33"],
    "uk": ["+380501234567", "050 123 45 67", "0671234567", "мій номер 093 111 22 33"],
}
ORDER_ANSWER = {"en": ["{n}", "it's {n}", "order {n}", "{n} please"],
                "uk": ["{n}", "це {n}", "замовлення {n}", "номер {n}"]}  # fmt: skip
STOP = {"en": ["stop", "no, that's not what I want", "cancel that"],
        "uk": ["стоп", "ні, я не про це", "скасувати"]}  # fmt: skip
# What the bot says when the wanted time cannot be had (templates slot_taken, no_slots_day,
# time_past, slot_gone): a person reads it and takes one of the offered times.
NOT_FREE = ("already taken", "no free time", "already passed", "just booked", "уже зайнято",
            "вільного часу немає", "уже минув", "щойно хтось")  # fmt: skip
CORRECTION = {"en": ["no, {x}", "no, I wanted {x}", "that's wrong, {x}"],
              "uk": ["ні, {x}", "ні, я хотіла {x}", "не так, {x}"]}  # fmt: skip
WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS_UK = ("понеділок", "вівторок", "середу", "четвер", "п'ятницю", "суботу", "неділю")
NEXT_UK = ("наступний понеділок", "наступний вівторок", "наступну середу", "наступний четвер",
           "наступну п'ятницю", "наступну суботу", "наступну неділю")  # fmt: skip
FACTS = {
    "ask_opening_hours": {"en": "08:00", "uk": "08:00"},
    "ask_address": {"en": "Khreshchatyk", "uk": "Хрещатик"},
    "ask_prices": {"en": "UAH", "uk": "грн"},
}
PRICES = {"consultation": "400", "cleaning": "1500", "filling": "1800", "whitening": "4500",
          "facial": "1200"}  # fmt: skip
STATUS = {  # the plain-words status the bot must say (templates order_status_names)
    "en": {"shipped": "on its way", "delivered": "delivered", "paid": "paid", "new": "received",
           "packed": "packed", "cancelled": "cancelled", "returned": "returned"},
    "uk": {"shipped": "в дорозі", "delivered": "доставлено", "paid": "оплачено",
           "new": "отримано", "packed": "запаковано", "cancelled": "скасовано",
           "returned": "повернено"},
}  # fmt: skip
DEMO_ORDERS = {"A1001": "shipped", "A1002": "delivered", "A1003": "paid", "A1004": "new",
               "A1005": "packed", "A1006": "cancelled", "A1007": "returned",
               "A1008": "shipped"}  # fmt: skip
KIND_INTENT = {
    "booking": "book_appointment",
    "reschedule": "reschedule_appointment",
    "cancel": "cancel_appointment",
    "order_status": "check_order_status",
}

_ANNOTATION = re.compile(r"\[([^\]]+)\]\((\w+)\)")
_PURE_TIME = re.compile(r"^\s*(?:at |о |об )?\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)?\s*$", re.I)
_HAS_TIME = re.compile(
    r"\d{1,2}\s*(?:am|pm)|\d{1,2}:\d{2}|^\s*\d{1,2}\s*$|о \d|зранку|вранці|morning|evening", re.I
)


# Filled by the entry point from the held-out split before any task runs (see bench_tasks.py).
AFFIRM: dict[str, list[str]] = {}
HELDOUT: dict[str, dict[str, list[str]]] = {}
