"""Bodies no widget sends: each is answered 4xx (or taken, when it is a message after all),
never 5xx, on both backends; what is taken is stored and answered as text."""

from __future__ import annotations

import json

from tests.webchat.conftest import KEY, Service

NASTY: list[bytes] = [
    b"",
    b"null",
    b'"a string"',
    b"{" * 5000 + b"}" * 5000,
    b'{"key": "' + KEY.encode() + b'", "id": "1", "text": "\\ud800 lone surrogate"}',
    b'{"key": "' + KEY.encode() + b'", "id": "2", "text": "nul \\u0000 inside"}',
    b'{"key": "' + KEY.encode() + b'", "id": "3", "text": 1e400}',
    b'{"key": "' + KEY.encode() + b'", "id": 4, "text": "id is a number"}',
    b'{"key": "' + KEY.encode() + b'", "id": "' + b"x" * 41 + b'", "text": "long id"}',
    b'{"key": "' + KEY.encode() + b'", "id": "5\\nnewline", "text": "newline in the id"}',
    b'{"key": "' + KEY.encode() + b'", "id": "6", "phone": "not a phone at all"}',
    b'{"key": "' + KEY.encode() + b'", "id": "7", "payload": "/inform{\\"x\\": [[[[[1]]]]]}"}',
    b'{"key": "' + KEY.encode() + b'", "id": "8", "text": "   "}',
    b'{"key": "' + KEY.encode() + b'", "id": "9", "text": "<script>alert(1)</script>"}',
    b'{"key": "' + KEY.encode() + b'", "id": "10", "text": "ok", "language": "xx-invalid-!!"}',
    b'{"key": ["' + KEY.encode() + b'"], "id": "11", "text": "key in a list"}',
    b'{"key": "' + KEY.encode() + b'", "id": "12", "text": "' + "ї".encode() * 4096 + b'"}',
    b"\xff\xfe\x00garbage",
    json.dumps({"key": KEY, "id": "13", "text": "a", "extra": {"deep": [1] * 1000}}).encode(),
]


async def test_no_body_is_a_server_error(webchat: Service) -> None:
    visitor = webchat.visitor()
    await visitor.start()
    for path in ("/webchat/messages", "/webchat/session", "/webchat/seen"):
        for body in NASTY:
            resp = await visitor.post(path, body)
            assert resp.status < 500, (path, body[:80], resp.status)
            assert resp.status in (200, 202, 400, 401, 403, 413), (path, body[:80], resp.status)
    stream = await visitor.stream()  # what was taken is shown back as text, never markup
    events = await stream.wait_for(lambda ev: any("<script>" in str(e["data"]) for e in ev))
    assert all(isinstance(e["data"].get("text", ""), str) for e in events)
    await stream.close()
