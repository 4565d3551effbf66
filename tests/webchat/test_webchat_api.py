"""The web chat's endpoints against the running service, on both backends: the signed visitor
cookie, origins and keys, bad bodies, the live stream and its resume, receipts, identity."""

from __future__ import annotations

from sqlalchemy import select

from bots.channels.webchat_auth import COOKIE, identity_hash
from storage.db import Database
from storage.models import Message
from tests.fakes import wait_until
from tests.webchat.conftest import IDENTITY_SECRET, KEY, Service


async def _rows(service: Service, user_id: str) -> list[Message]:
    db = Database(service.settings.database_url)
    try:
        async with db.session() as s:
            found = await s.scalars(
                select(Message)
                .where(Message.channel == "webchat", Message.external_user_id == user_id)
                .order_by(Message.id)
            )
            return list(found)
    finally:
        await db.dispose()


def _visitor_id(service: Service, cookies: str) -> str:
    from base64 import urlsafe_b64decode

    encoded = cookies.split(".")[0]
    return urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


async def test_a_visitor_is_answered_live_and_the_transcript_has_both_sides(
    webchat: Service,
) -> None:
    visitor = webchat.visitor()
    resp = await visitor.start()
    cookie = resp.cookies[COOKIE]
    assert cookie["httponly"] and cookie["path"] == "/webchat"
    stream = await visitor.stream()
    answer = await visitor.say("where is my order A1001")
    assert answer["status"] == "accepted"
    events = await stream.wait_for(lambda ev: any(e["kind"] == "message" for e in ev))
    assert events[0]["kind"] == "visitor" and events[0]["data"]["text"] == "where is my order A1001"
    assert "A1001" in stream.texts()[0]
    assert len({e["id"] for e in events}) == len(events)
    user_id = _visitor_id(webchat, cookie.value)
    rows = await _rows(webchat, user_id)
    assert [r.direction for r in rows][:2] == ["in", "out"]
    await stream.close()


async def test_a_forged_or_missing_cookie_is_refused(webchat: Service) -> None:
    visitor = webchat.visitor()
    no_session = await visitor.post("/webchat/messages", {"key": KEY, "id": "1", "text": "hi"})
    assert no_session.status == 401
    await visitor.start()
    [jar_cookie] = [c for c in visitor.http.cookie_jar if c.key == COOKIE]
    encoded, _, mac = jar_cookie.value.partition(".")
    forged = "dTpzb21lYm9keS1lbHNl." + mac  # "u:somebody-else" under the visitor's signature
    for cookies in ({COOKIE: forged}, {COOKIE: encoded + ".AAAA"}):
        visitor.http.cookie_jar.clear()
        resp = await visitor.http.post(
            webchat.base + "/webchat/messages",
            json={"key": KEY, "id": "2", "text": "hi"},
            headers=visitor.headers(),
            cookies=cookies,
        )
        assert resp.status == 401
        resp.close()


async def test_foreign_origins_and_wrong_keys_get_403(webchat: Service) -> None:
    evil = webchat.visitor(origin="https://evil.example.net")
    assert (await evil.post("/webchat/session", {"key": KEY})).status == 403
    assert (
        await evil.post("/webchat/messages", {"key": KEY, "id": "1", "text": "x"})
    ).status == 403
    async with evil.http.get(
        webchat.base + f"/webchat/events?key={KEY}", headers=evil.headers()
    ) as resp:
        assert resp.status == 403
    wrong_key = webchat.visitor()
    assert (await wrong_key.post("/webchat/session", {"key": "nope"})).status == 403

    shop = webchat.visitor(origin="https://shop.example.com")  # OMNIRELAY_WEBCHAT_ALLOWED_ORIGINS
    resp = await shop.post("/webchat/session", {"key": KEY})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    async with shop.http.options(
        webchat.base + "/webchat/messages", headers=shop.headers()
    ) as preflight:
        assert preflight.status == 204
    async with evil.http.options(
        webchat.base + "/webchat/messages", headers=evil.headers()
    ) as preflight:
        assert preflight.status == 403


async def test_bad_bodies_are_refused_before_anything_is_stored(webchat: Service) -> None:
    visitor = webchat.visitor()
    await visitor.start()
    huge = b'{"key": "' + KEY.encode() + b'", "id": "1", "text": "' + b"a" * 40_000 + b'"}'
    assert (await visitor.post("/webchat/messages", huge)).status == 413
    assert (await visitor.post("/webchat/messages", b"{not json")).status == 400
    assert (await visitor.post("/webchat/messages", b"[1, 2]")).status == 400
    both = {"key": KEY, "id": "3", "text": "a", "payload": "/greet"}
    assert (await visitor.post("/webchat/messages", both)).status == 400
    assert (
        await visitor.post("/webchat/messages", {"key": KEY, "id": "4", "text": 5})
    ).status == 400
    assert (await visitor.post("/webchat/session", b"\xff\xfe")).status == 400


async def test_a_reconnect_resumes_after_the_last_event_id_without_duplicates(
    webchat: Service,
) -> None:
    visitor = webchat.visitor()
    await visitor.start()
    first = await visitor.stream()
    await visitor.say("hello")
    events = await first.wait_for(lambda ev: any(e["kind"] == "message" for e in ev))
    seen_up_to = events[-1]["id"]
    await first.close()

    await visitor.say("where is my order A1003")  # answered while nobody listens
    again = await visitor.stream(last_event_id=seen_up_to)
    resumed = await again.wait_for(lambda ev: any(e["kind"] == "message" for e in ev))
    assert resumed[0]["data"]["text"] == "where is my order A1003"
    assert again.texts()  # the bot's answer (what it may say depends on verification)
    assert not {e["id"] for e in resumed} & {e["id"] for e in events}
    await again.close()

    everything = await visitor.stream()  # a fresh page: the whole history, in order
    history = await everything.wait_for(lambda ev: len(ev) >= len(events) + len(resumed))
    assert [e["id"] for e in history] == [e["id"] for e in events + resumed]
    await everything.close()


async def test_a_receipt_marks_the_reply_seen(webchat: Service) -> None:
    visitor = webchat.visitor()
    resp = await visitor.start()
    user_id = _visitor_id(webchat, resp.cookies[COOKIE].value)
    stream = await visitor.stream()
    await visitor.say("hello")
    events = await stream.wait_for(lambda ev: any(e["kind"] == "message" for e in ev))
    reply = next(e for e in events if e["kind"] == "message")
    assert (await visitor.post("/webchat/seen", {"key": KEY, "id": reply["id"]})).status == 202
    await stream.close()

    async def seen() -> bool:
        rows = await _rows(webchat, user_id)
        return any(r.direction == "out" and r.status == "seen" for r in rows)

    await wait_until(seen, timeout=20, what="the reply marked seen")


async def test_a_signed_customer_id_is_one_chat_in_every_browser(webchat: Service) -> None:
    signature = identity_hash(IDENTITY_SECRET, "cust-42")
    laptop, phone = webchat.visitor(), webchat.visitor()
    resp = await laptop.start(user_id="cust-42", user_hash=signature)
    assert resp.status == 200
    stream = await laptop.stream()
    await laptop.say("where is my order A1001")
    await stream.wait_for(lambda ev: any(e["kind"] == "message" for e in ev))
    await stream.close()

    await phone.start(user_id="cust-42", user_hash=signature)
    on_phone = await phone.stream()
    history = await on_phone.wait_for(lambda ev: any(e["kind"] == "message" for e in ev))
    assert history[0]["data"]["text"] == "where is my order A1001"
    await on_phone.close()
    assert [r.direction for r in await _rows(webchat, "u:cust-42")][:2] == ["in", "out"]

    forger = webchat.visitor()
    bad = await forger.post(
        "/webchat/session", {"key": KEY, "user_id": "cust-42", "user_hash": "0" * 64}
    )
    assert bad.status == 403
