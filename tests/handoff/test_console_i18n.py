"""The agent console's interface texts, English and Ukrainian (trial 3, T17): one table
`key: [English, Ukrainian]` (`console.i18n.js`, with the texts shared with the dashboard in
`i18n.js`), every key the page and its scripts name is in it, both languages say the same
thing with the same {placeholders}, and the page is served with the business default language.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from importlib import resources

from bots.flows.booking import BookingFlow
from bots.flows.manage_booking import ManageBookingFlow
from bots.flows.order_status import OrderStatusFlow
from bots.metrics import HANDOFF_REASONS
from tests.handoff.conftest import Api

STATIC = resources.files("handoff").joinpath("static")
SCRIPTS = ("console.js", "ticket.js", "conversations.js")
# texts that read the same in both languages
SAME_IN_BOTH = {"failed"}


def read_table(*names: str) -> dict[str, list[str]]:
    """`key: ["English", "Ukrainian"],` lines of the named files, one line a key."""
    text = "".join(STATIC.joinpath(name).read_text("utf-8") for name in names)
    return {
        key: json.loads(pair)
        for key, pair in re.findall(r'^  (\w+): (\[".*"\]),$', text, flags=re.MULTILINE)
    }


def console_texts() -> dict[str, list[str]]:
    return read_table("i18n.js", "console.i18n.js")


def test_both_languages_have_every_text_with_the_same_placeholders() -> None:
    texts = read_table("console.i18n.js")
    assert len(texts) > 100
    keys = re.findall(r"^  (\w+):", STATIC.joinpath("console.i18n.js").read_text("utf-8"), re.M)
    assert len(keys) == len(set(keys)), "a key twice: the second would win silently"
    for key, pair in console_texts().items():
        assert len(pair) == 2 and all(p.strip() for p in pair), key
        english, ukrainian = pair
        assert set(re.findall(r"\{\w+\}", english)) == set(re.findall(r"\{\w+\}", ukrainian)), key
        # typographic apostrophe and quotes in Ukrainian ("Ім’я", not "Ім'я")
        assert "'" not in ukrainian and '"' not in ukrainian, f"{key}: {ukrainian}"
        if key not in SAME_IN_BOTH:
            assert re.search("[а-яіїєґ]", ukrainian, re.I), f"{key} is not Ukrainian: {ukrainian}"


class _Page(HTMLParser):
    """The keys the page names (data-i18n*), its scripts and its <body> attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()
        self.scripts: list[str] = []
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("data-i18n", "data-i18n-label", "data-i18n-title", "data-i18n-placeholder"):
            if found.get(name):
                self.keys.add(str(found[name]))
        if tag == "script":
            self.scripts.append(found.get("src") or "inline")
        if tag == "body":
            self.body = found


def test_every_key_the_page_and_its_scripts_name_is_in_the_table() -> None:
    texts = console_texts()
    page = _Page()
    page.feed(STATIC.joinpath("console.html").read_text("utf-8"))
    assert {"login_submit", "tab_queued", "claim", "search_placeholder"} <= page.keys
    assert page.keys <= set(texts), page.keys - set(texts)
    named: set[str] = set()
    for name in SCRIPTS:
        script = STATIC.joinpath(name).read_text("utf-8")
        # the literal keys of a call of t(), tr(), say(node, …), act(…), ticketAction(…), up
        # to the end of the line or the arrow of a callback; "st_" + code is the next test's
        for call in re.findall(r"\b(?:tr?|say|act|ticketAction)\(([^\n]*)", script):
            if not re.search(r'"\w+_" \+', call):
                named |= set(re.findall(r'"([a-z][a-z0-9_]*[a-z0-9])"', call.split("=>")[0]))
        if name == "ticket.js":
            named |= set(re.findall(r'"(chose_\w+)"', script))
    assert len(named) > 60
    assert named <= set(texts), named - set(texts)


def test_the_codes_the_scripts_put_in_words_all_have_their_texts() -> None:
    """Keys made from a code (`"reason_" + code`): every code the server sends has its text."""
    texts = console_texts()
    made = {f"reason_{code}" for code in HANDOFF_REASONS}
    made |= {f"role_{role}" for role in ("agent", "supervisor", "admin")}
    made |= {f"st_{status}" for status in ("queued", "offered", "assigned", "closed")}
    made |= {f"from_{who}" for who in ("customer", "bot", "agent")}
    delivery = re.search(
        r"const DELIVERY = new Set\(\[(.*?)\]\)", STATIC.joinpath("ticket.js").read_text("utf-8")
    )
    assert delivery
    made |= {f"d_{status}" for status in json.loads(f"[{delivery.group(1)}]")}
    decisions = ("deferred", "capped", "suppressed", "unreachable", "expired", "cancelled")
    made |= {f"dec_{decision}" for decision in decisions}
    made |= {f"lang_{language}" for language in ("en", "uk")}
    made |= {f"task_{flow.name}" for flow in (BookingFlow, ManageBookingFlow, OrderStatusFlow)}
    assert made <= set(texts), made - set(texts)


def test_the_audit_log_page_has_every_text_in_both_languages() -> None:
    texts = read_table("i18n.js", "audit.i18n.js")
    for key, (english, ukrainian) in texts.items():
        assert english.strip() and re.search("[а-яіїєґ]", ukrainian, re.I), key
        assert set(re.findall(r"\{\w+\}", english)) == set(re.findall(r"\{\w+\}", ukrainian)), key
    page = _Page()
    page.feed(STATIC.joinpath("audit.html").read_text("utf-8"))
    named = page.keys | set(
        re.findall(r'\bsay\("(\w+)"', STATIC.joinpath("audit.js").read_text("utf-8"))
    )
    assert {"heading", "loading", "entries", "no_entries"} <= named
    assert named <= set(texts), named - set(texts)


async def test_the_console_is_served_with_the_default_language_and_its_tables(api: Api) -> None:
    resp = await api.client.get("/console")
    assert resp.status == 200
    page = _Page()
    page.feed(await resp.text())
    assert page.body == {"data-language": api.settings.default_language}
    # the shared language code first, then the console's texts, then the scripts that use them
    assert page.scripts == [
        "/console/static/i18n.js",
        "/console/static/console.i18n.js",
        "/console/static/console.js",
        "/console/static/ticket.js",
        "/console/static/conversations.js",
    ]
    for name in ("i18n.js", "console.i18n.js"):
        asset = await api.client.get(f"/console/static/{name}")
        assert asset.status == 200 and asset.content_type == "application/javascript", name
        assert "script-src 'self'" in asset.headers["Content-Security-Policy"]
