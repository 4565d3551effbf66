"""The site has an icon (newcomer trial, issue 17): `/favicon.ico` answered 404, which a browser
asks for on every page that names no icon (the chat page, the simulator, an API address opened
in a tab) and logs as an error. (Headless Chromium asks for no icon, so this is checked over
HTTP, with the page that relies on it.)"""

from __future__ import annotations

import aiohttp

from tests.webchat.conftest import Service


async def test_the_site_has_an_icon(webchat: Service) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(webchat.base + "/chat") as page:
            assert page.status == 200
            assert 'rel="icon"' not in await page.text()  # the browser asks /favicon.ico
        async with http.get(webchat.base + "/favicon.ico") as icon:
            assert icon.status == 200
            assert icon.content_type == "image/svg+xml"
            assert (await icon.text()).startswith("<svg")
