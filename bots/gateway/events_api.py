"""`POST /api/events`: events of the business's systems (an order shipped, a cart abandoned)
that start or cancel proactive messages (`bots.proactive.events.accept_event`).

Bearer ``OMNIRELAY_EVENTS_TOKEN`` (else the admin token); without either every call is
refused (401), never open. Answers, always JSON:

- 202 ``{"event", "type", "customer_id", "jobs": [...], "cancelled": N, "duplicate": false}``;
  a repeated event id is answered the same way with ``"duplicate": true`` and changes nothing;
- 400 ``{"error", "problems": [...]}``: not JSON, or a field is missing or wrong;
- 404 ``{"error"}``: no customer matches; nothing is stored;
- 409 ``{"error"}``: the event id was used for another event;
- 422 ``{"error"}``: no scenario starts or cancels on this event type.

(`GET /api/events` on the same path is the agent console's live stream, `handoff.api`.)
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from bots.config import Settings, secret
from bots.proactive.event_input import EventInvalid, parse_event
from bots.proactive.events import EventClash, UnknownCustomer, UnknownEventType, accept_event
from bots.proactive.scenarios import Scenarios
from storage.db import Database

__all__ = ["MAX_EVENT_BYTES", "events_routes"]

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 64 * 1024
Resources = Callable[[], tuple[Database, Scenarios, Callable[[], datetime]]]


def events_routes(settings: Settings, resources: Resources) -> list[web.RouteDef]:
    """The route; ``resources`` gives the database, the scenarios and the bot's clock once
    the app has opened them."""
    token = secret(settings.events_token) or secret(settings.admin_token)
    return [web.post("/api/events", _EventsApi(token, resources).post)]


def _error(status: int, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


class _EventsApi:
    def __init__(self, token: str | None, resources: Resources) -> None:
        self._expected = f"Bearer {token}".encode() if token else None
        self._resources = resources

    async def post(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if self._expected is None or not hmac.compare_digest(given, self._expected):
            log.warning("events API: refused a post from %s", request.remote)
            return _error(401, "a valid bearer token (OMNIRELAY_EVENTS_TOKEN) is required")
        body = await request.content.read(MAX_EVENT_BYTES + 1)
        if len(body) > MAX_EVENT_BYTES:
            return _error(413, f"an event is at most {MAX_EVENT_BYTES} bytes")
        try:
            event = parse_event(json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "the body must be a JSON object", problems=["not JSON"])
        except EventInvalid as e:
            return _error(400, "the event is malformed", problems=e.problems)
        db, scenarios, clock = self._resources()
        try:
            accepted = await accept_event(db, scenarios, event, clock())
        except UnknownCustomer as e:
            return _error(404, f"{e}; nothing was stored")
        except UnknownEventType as e:
            return _error(422, str(e))
        except EventClash as e:
            return _error(409, str(e))
        if not accepted.duplicate:
            log.info(
                "event %s (%s) for customer %s: %d job(s), %d cancelled",
                event.id,
                event.type,
                accepted.result.get("customer_id"),
                len(accepted.result.get("jobs") or ()),
                accepted.result.get("cancelled", 0),
            )
        return web.json_response(accepted.as_dict(), status=202)
