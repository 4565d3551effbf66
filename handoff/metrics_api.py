"""The metrics API of the console, for supervisors and admins (bearer token or console cookie,
like the rest of ``/api``):

- ``GET /api/metrics/summary?from=YYYY-MM-DD&to=YYYY-MM-DD&channel=&language=&team=&agent=``:
  every number of ``storage/analytics/METRICS.md`` for the local days ``from``..``to``
  (default: the last 7 days up to today), as JSON;
- ``GET /api/metrics/export.csv?kind=conversations|tickets&from=&to=&...``: one row per
  conversation or per ticket of the range, streamed.

Days are calendar days in the business's time zone (``OMNIRELAY_TIMEZONE``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from handoff.auth import Principal
from handoff.errors import Forbidden, HandoffError
from handoff.service import HandoffService
from storage.analytics.export import export_csv
from storage.analytics.summary import Query, summary

__all__ = ["MAX_DAYS", "metrics_routes"]

MAX_DAYS = 366
DEFAULT_DAYS = 7
MAX_FILTER = 64

Handler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]
Guard = Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]


def metrics_routes(
    guard: Guard, service: Callable[[web.Request], HandoffService]
) -> list[web.RouteDef]:
    """The two routes, behind ``guard`` (the console API's authentication)."""
    api = _MetricsApi(service)
    return [
        web.get("/api/metrics/summary", guard(api.summary)),
        web.get("/api/metrics/export.csv", guard(api.export)),
    ]


class _MetricsApi:
    def __init__(self, service: Callable[[web.Request], HandoffService]) -> None:
        self.service = service

    async def summary(self, request: web.Request, principal: Principal) -> web.Response:
        _supervisor(principal)
        service = self.service(request)
        query = parse_query(request.query, service)
        queue = await asyncio.to_thread(_review_queue, service.config.review_log)
        doc = await summary(service.db, query, review_queue=queue)
        return web.json_response(doc)

    async def export(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        _supervisor(principal)
        service = self.service(request)
        kind = request.query.get("kind", "conversations")
        if kind not in ("conversations", "tickets"):
            raise HandoffError("kind is conversations or tickets")
        query = parse_query(request.query, service)
        name = f"omnirelay-{kind}-{query.first.isoformat()}-{query.last.isoformat()}.csv"
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name}"',
            }
        )
        await response.prepare(request)
        async for chunk in export_csv(service.db, query, kind):
            await response.write(chunk.encode())
        await response.write_eof()
        return response


def _supervisor(principal: Principal) -> None:
    if not principal.supervises:
        raise Forbidden("the metrics are for supervisors and admins")


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise HandoffError(f"{name} is a date, YYYY-MM-DD") from e


def _text(query: Any, name: str) -> str | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if len(value) > MAX_FILTER:
        raise HandoffError(f"{name} is longer than {MAX_FILTER} characters")
    return str(value).strip().lower()


def parse_query(query: Any, service: HandoffService) -> Query:
    """The summary's `Query` from the request's parameters (`HandoffError`: 400)."""
    config = service.config
    today = service.clock().astimezone(service.hours.tz).date()
    last = _date(query.get("to"), "to") or today
    first = _date(query.get("from"), "from") or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise HandoffError("from is after to")
    if (last - first).days >= MAX_DAYS:
        raise HandoffError(f"the range is longer than {MAX_DAYS} days")
    agent = query.get("agent") or None
    if agent is not None and not (agent.isascii() and agent.isdigit()):
        raise HandoffError("agent is an agent's id")
    return Query(
        first=first,
        last=last,
        timezone=config.timezone,
        channel=_text(query, "channel"),
        language=_text(query, "language"),
        team=_text(query, "team"),
        agent_id=int(agent) if agent is not None else None,
        fcr_days=config.fcr_days,
    )


def _review_queue(path: str | None) -> int | None:
    """Messages waiting in the NLU review log (its lines); None without a log."""
    if not path:
        return None
    file = Path(path)
    if not file.exists():
        return 0
    with file.open("rb") as f:
        return sum(1 for line in f if line.strip())
