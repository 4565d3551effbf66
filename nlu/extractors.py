"""Rule-based entity extractors: e-mails, phones (E.164), order numbers, dates, regex, lookups."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers

from nlu.dates import extract_dates
from nlu.types import Entity

_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
# Letter + digits ("A1001", Cyrillic "А1001" too), "#1234"/"№12345", or digits after "order".
DEFAULT_ORDER_PATTERN = (
    r"(?:#|№\s?)(?P<num>[A-ZА-Я]?\d{4,8})\b"
    r"|\b(?P<num2>[A-ZА-Я]\d{4,8})\b"
    r"|(?:order|замовлен\w*|заказ\w*|zamovlen\w*)\s*(?:number|no\.?|номер|nr\.?)?\s*"
    r"(?P<num3>\d{4,8})\b"
)
_DIGIT = re.compile(r"\d")
# Latin look-alikes of Cyrillic capitals: customers switch keyboard layouts mid-word.
_LOOKALIKES = str.maketrans("АВЕКМНОРСТХІ", "ABEKMHOPCTXI")


@dataclass(frozen=True)
class ExtractorConfig:
    """Which rule extractors run and how (``order_pattern``: groups named ``num*`` hold the id)."""

    order_pattern: str = DEFAULT_ORDER_PATTERN
    phone_region: str = "UA"
    dates: bool = True
    phones: bool = True
    emails: bool = True
    order_numbers: bool = True
    date_entity: str = "time"


@dataclass
class RuleExtractor:
    """Runs the rule extractors plus the data's regex and lookup tables over one message."""

    config: ExtractorConfig = field(default_factory=ExtractorConfig)
    regexes: Mapping[str, list[str]] = field(default_factory=dict)
    lookups: Mapping[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._order_re = re.compile(self.config.order_pattern, re.IGNORECASE)
        self._regex_res = {
            name: re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)
            for name, pats in self.regexes.items()
            if pats
        }
        self._lookup_res = {
            name: re.compile(
                r"(?<!\w)(?:"
                + "|".join(re.escape(x) for x in sorted(set(items), key=len, reverse=True))
                + r")(?!\w)",
                re.IGNORECASE,
            )
            for name, items in self.lookups.items()
            if items
        }

    def extract(
        self, text: str, *, lang: str, now: datetime | None = None, tz: str | None = None
    ) -> list[Entity]:
        """All rule entities, non-overlapping, in text order (earlier extractors win)."""
        found: list[Entity] = []
        cfg = self.config
        if cfg.emails and "@" in text:
            found.extend(self._emails(text))
        if cfg.phones and len(_DIGIT.findall(text)) >= 7:  # shortest valid numbers
            found.extend(self._phones(text))
        if cfg.order_numbers:
            found.extend(self._orders(text))
        if cfg.dates:
            found.extend(
                Entity(cfg.date_entity, d.value, d.start, d.end, d.text, "DateExtractor")
                for d in extract_dates(text, now=now, tz=tz, lang=lang)
            )
        for name, rx in self._regex_res.items():
            found.extend(_spans(rx.finditer(text), name, "RegexEntityExtractor"))
        for name, rx in self._lookup_res.items():
            found.extend(_spans(rx.finditer(text), name, "LookupEntityExtractor"))
        return drop_overlaps(found)

    def types(self) -> set[str]:
        """The entity types these extractors can produce."""
        cfg = self.config
        made = {cfg.date_entity: cfg.dates, "phone": cfg.phones, "email": cfg.emails,
                "order_number": cfg.order_numbers}  # fmt: skip
        return {t for t, on in made.items() if on} | set(self.regexes) | set(self.lookups)

    def merge(self, rule_found: list[Entity], crf_found: list[Entity]) -> list[Entity]:
        """Rule and CRF entities together, sorted by position. Where they overlap the rule entity
        wins over a CRF entity of a type the rules produce (its value is resolved: an ISO time,
        an E.164 phone); a CRF entity of any other type is kept beside it (the data's own types:
        "timeRange" around a rule's `time`), and overlaps among CRF entities cannot happen."""
        mine = self.types()
        contested = [e for e in crf_found if e.entity in mine]
        kept = drop_overlaps(rule_found + contested)
        return sorted(kept + [e for e in crf_found if e.entity not in mine], key=_position)

    @staticmethod
    def _emails(text: str) -> Iterable[Entity]:
        for m in _EMAIL_RE.finditer(text):
            yield Entity(
                "email", m.group().lower(), m.start(), m.end(), m.group(), "EmailExtractor"
            )

    def _phones(self, text: str) -> Iterable[Entity]:
        matcher = phonenumbers.PhoneNumberMatcher(text, self.config.phone_region)
        for match in matcher:
            value = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            yield Entity("phone", value, match.start, match.end, match.raw_string, "PhoneExtractor")

    def _orders(self, text: str) -> Iterable[Entity]:
        for m in self._order_re.finditer(text):
            groups = [(k, v) for k, v in m.groupdict().items() if k.startswith("num") and v]
            if groups:
                key, raw = groups[0]
                start, end = m.start(key), m.end(key)
            else:
                raw, start, end = m.group(), m.start(), m.end()
            value = raw.upper().translate(_LOOKALIKES)
            yield Entity("order_number", value, start, end, text[start:end], "OrderNumberExtractor")


def _spans(matches: Iterable[re.Match[str]], name: str, extractor: str) -> Iterable[Entity]:
    for m in matches:
        if m.end() > m.start():
            yield Entity(name, m.group(), m.start(), m.end(), m.group(), extractor)


def _position(e: Entity) -> int:
    return e.start if e.start is not None else -1


def drop_overlaps(entities: list[Entity]) -> list[Entity]:
    """Keep the first of any entities whose spans overlap; return them sorted by position."""
    kept: list[Entity] = []
    for ent in entities:
        if ent.start is None or ent.end is None:
            kept.append(ent)
            continue
        if all(
            k.start is None or k.end is None or ent.end <= k.start or ent.start >= k.end
            for k in kept
        ):
            kept.append(ent)
    return sorted(kept, key=_position)


def apply_synonyms(entities: list[Entity], synonyms: Mapping[str, str]) -> list[Entity]:
    """Replace string values that are known synonyms by their canonical value; a canonical
    value in another case ("CONSULTATION", "Whitening") is given as written in the data."""
    out = []
    for e in entities:
        if isinstance(e.value, str):
            low = e.value.lower()
            canonical = synonyms.get(low)
            if canonical is None and low != e.value:
                canonical = next((v for v in synonyms.values() if v.lower() == low), None)
            if canonical is not None and canonical != e.value:
                e = Entity(**{**e.__dict__, "value": canonical})
        out.append(e)
    return out
