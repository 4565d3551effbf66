"""The supervisors' dashboard page, server side: the role is checked before the page is sent
(a supervisor gets it, an agent 403, nobody logged in the console's login), its assets are the
console's (same origin, strict CSP), and the business timezone and default language are
filled in."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from importlib import resources

from handoff.dashboard import PATH
from tests.handoff.conftest import Api

PASSWORD = "correct horse battery staple"


async def _log_in(api: Api, name: str) -> None:
    resp = await api.client.post("/console/login", data={"name": name, "password": PASSWORD})
    assert resp.status == 200, await resp.text()


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.sources.append(dict(attrs).get("src") or "inline")
        if tag == "body":
            self.body = dict(attrs)


async def test_a_supervisor_gets_the_dashboard(api: Api) -> None:
    await api.add_agent("sofia", ["general"], role="supervisor", password=PASSWORD, online=False)
    await _log_in(api, "sofia")
    resp = await api.client.get(PATH)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    page = _Scripts()
    page.feed(await resp.text())
    # scripts only from the console's own asset route: nothing inline, nothing from outside
    assert page.sources == [
        "/console/static/i18n.js",
        "/console/static/dashboard.i18n.js",
        "/console/static/dashboard.charts.js",
        "/console/static/dashboard.js",
    ]
    settings = api.settings
    assert page.body == {
        "data-timezone": settings.timezone,
        "data-language": settings.default_language,
    }
    for name, kind in [
        ("dashboard.js", "application/javascript"),
        ("dashboard.charts.js", "application/javascript"),
        ("dashboard.i18n.js", "application/javascript"),
        ("i18n.js", "application/javascript"),
        ("dashboard.css", "text/css"),
    ]:
        asset = await api.client.get(f"/console/static/{name}")
        assert asset.status == 200 and asset.content_type == kind, name
        text = await asset.text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text


async def test_an_agent_is_refused_the_dashboard(api: Api) -> None:
    await api.add_agent("anna", ["general"], password=PASSWORD, online=False)
    await _log_in(api, "anna")
    resp = await api.client.get(PATH)
    assert resp.status == 403
    text = await resp.text()
    assert "for supervisors" in text and "лише для керівників" in text
    assert "dashboard.js" not in text
    assert "Content-Security-Policy" in resp.headers


async def test_without_a_session_the_dashboard_sends_to_the_login(api: Api) -> None:
    resp = await api.client.get(PATH, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console"
    # a stale or forged cookie is no session either
    api.client.session.cookie_jar.update_cookies({"omnirelay_console": "not-a-session"})
    resp = await api.client.get(PATH, allow_redirects=False)
    assert resp.status == 303


async def test_the_console_page_links_the_dashboard_only_when_allowed(api: Api) -> None:
    """The link is hidden in the page and shown by the script for supervisors and admins."""
    page = await (await api.client.get("/console")).text()
    assert '<a id="dashboard-link" href="/console/dashboard" hidden>' in page
    script = await (await api.client.get("/console/static/console.js")).text()
    assert '$("dashboard-link").hidden = !["supervisor", "admin"].includes(me.role);' in script


def test_every_text_of_the_dashboard_is_in_english_and_ukrainian() -> None:
    """One table, `key: [English, Ukrainian]` (with the texts shared with the console); every key
    the page names is in it, every text is non-empty, and the Ukrainian ones use the typographic
    apostrophe and quotes."""
    static = resources.files("handoff").joinpath("static")
    table = "".join(static.joinpath(f).read_text("utf-8") for f in ("i18n.js", "dashboard.i18n.js"))
    texts = {
        key: json.loads(pair)
        for key, pair in re.findall(r'^  (\w+): (\[".*"\]),$', table, flags=re.MULTILINE)
    }
    assert len(texts) > 80
    for key, pair in texts.items():
        assert len(pair) == 2 and all(p.strip() for p in pair), key
        assert "'" not in pair[1] and '"' not in pair[1], f"{key}: {pair[1]}"
    named = set(
        re.findall(
            r'data-i18n(?:-label)?="(\w+)"', static.joinpath("dashboard.html").read_text("utf-8")
        )
    )
    script = static.joinpath("dashboard.js").read_text("utf-8")
    named |= set(re.findall(r'\bt\("(\w+)"[,)]', script)) | set(re.findall(r'say\("(\w+)"', script))
    assert named and named <= set(texts), named - set(texts)
