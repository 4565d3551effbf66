"""Who may call which route: ONE declarative table for every route the application serves.

Each line maps ``(method, path)`` (the path as aiohttp's ``resource.canonical``, e.g.
``/api/tickets/{id}``) to a `Rule`: the callers allowed, how they authenticate, and the scope of
what they then see (the scope itself is enforced by the handlers, e.g. `handoff.routing.can_see`;
the table names it so a reader and the tests know what to expect).

Callers (`caller_of`): ``agent``, ``supervisor`` and ``admin`` are agents' accounts (bearer agent
token or console session cookie); ``admin-token`` is ``OMNIRELAY_ADMIN_TOKEN``.

The guards of the agent API (`handoff.api`) and the admin API (`bots.gateway.admin_api`) look
every request up here and refuse (403) a caller the rule does not name, and refuse every call to
a route with no line (fail closed). ``tests/handoff/test_access.py`` calls every route of the real
application with each kind of caller and fails for a route without a line: **a new route needs a
line here.** HEAD is looked up as GET.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from handoff.auth import Principal
from handoff.errors import Forbidden
from handoff.models import HandoffQueue, Ticket
from handoff.routing import can_see

__all__ = [
    "ACCOUNTS",
    "ADMINS",
    "ANYONE_SIGNED_IN",
    "RULES",
    "SUPERVISORS",
    "Rule",
    "allows",
    "caller_of",
    "in_hands",
    "in_teams",
    "route_key",
    "rule_for",
    "rule_of",
    "unruled",
]

Auth = Literal["api", "page", "token", "public"]

#: every agent account (not the admin token, which is nobody's account)
ACCOUNTS = frozenset({"agent", "supervisor", "admin"})
ANYONE_SIGNED_IN = ACCOUNTS | {"admin-token"}
SUPERVISORS = frozenset({"supervisor", "admin", "admin-token"})
ADMINS = frozenset({"admin", "admin-token"})


@dataclass(frozen=True, slots=True)
class Rule:
    """``auth``: ``api`` = bearer agent/admin token or console cookie (+ CSRF token on writes);
    ``page`` = a console page (cookie; no session: 303 to ``/console``); ``token`` = a bearer
    token of its own (the events token, else the admin token), no agent account; ``public`` =
    no credentials (the route checks its own signature or secret, or serves public files)."""

    roles: frozenset[str]
    scope: str
    auth: Auth = "api"


def _api(roles: frozenset[str], scope: str) -> Rule:
    return Rule(roles, scope)


def _public(why: str) -> Rule:
    return Rule(frozenset(), why, "public")


SELF = "self: the caller's own account, status and console sessions"
QUEUES = (
    "queues: an agent the tickets and customers of their teams (skills x languages) and the "
    "tickets assigned to them; a supervisor their teams (every team without skills), acting "
    "on other agents' tickets there; an admin every team"
)
ALL = "everything"
METRICS = "every team's numbers"

RULES: Mapping[tuple[str, str], Rule] = {
    # ---- console login and the agent's own account (handoff/api.py) ----
    ("POST", "/console/login"): _public("login form: throttled, locked, same-origin only"),
    ("POST", "/console/logout"): _api(ANYONE_SIGNED_IN, SELF),
    ("GET", "/api/me"): _api(ANYONE_SIGNED_IN, SELF),
    ("POST", "/api/me/status"): _api(ACCOUNTS, SELF),
    ("POST", "/api/me/sessions/revoke"): _api(ACCOUNTS, SELF),
    # ---- tickets and conversations (handoff/api.py) ----
    ("GET", "/api/queues"): _api(ANYONE_SIGNED_IN, QUEUES),
    ("GET", "/api/conversations"): _api(ANYONE_SIGNED_IN, QUEUES),
    ("GET", "/api/tickets"): _api(ANYONE_SIGNED_IN, QUEUES),
    ("POST", "/api/tickets"): _api(ACCOUNTS, QUEUES),
    ("GET", "/api/tickets/{id}"): _api(ANYONE_SIGNED_IN, QUEUES),
    ("POST", "/api/tickets/{id}/claim"): _api(ACCOUNTS, QUEUES),
    ("POST", "/api/tickets/{id}/messages"): _api(ANYONE_SIGNED_IN, QUEUES),
    ("POST", "/api/tickets/{id}/close"): _api(ANYONE_SIGNED_IN, QUEUES),
    ("POST", "/api/tickets/{id}/transfer"): _api(ANYONE_SIGNED_IN, QUEUES),
    ("GET", "/api/events"): _api(ANYONE_SIGNED_IN, QUEUES),
    # ---- agents (handoff/api.py) ----
    ("GET", "/api/agents"): _api(ADMINS, ALL),
    ("GET", "/api/agents/names"): _api(ANYONE_SIGNED_IN, "every agent's id, name and status"),
    ("POST", "/api/agents"): _api(ADMINS, ALL),
    ("POST", "/api/agents/{id}/sessions/revoke"): _api(ADMINS, ALL),
    ("PATCH", "/api/agents/{id}"): _api(ADMINS, ALL),
    # ---- metrics (handoff/metrics_api.py, handoff/dashboard.py) ----
    ("GET", "/api/metrics/summary"): _api(SUPERVISORS, METRICS),
    ("GET", "/api/metrics/export.csv"): _api(SUPERVISORS, METRICS),
    ("GET", "/console/dashboard"): Rule(frozenset({"supervisor", "admin"}), METRICS, "page"),
    # ---- the console's page and files (handoff/console.py) ----
    ("GET", "/console"): _public("the console page; its data comes from /api"),
    ("GET", "/console/static/{name}"): _public("the console's and dashboard's scripts and styles"),
    ("GET", "/console/canned"): _public("canned reply templates (handoff/canned.yml)"),
    # ---- admin API (bots/gateway/admin_api.py) ----
    ("GET", "/api/customers"): _api(ADMINS, ALL),
    ("GET", "/api/customers/{id}"): _api(ADMINS, ALL),
    ("GET", "/api/customers/{id}/transcript"): _api(ADMINS, ALL),
    ("GET", "/api/customers/{id}/proactive"): _api(ADMINS, ALL),
    ("POST", "/api/customers/{id}/merge"): _api(ADMINS, ALL),
    ("POST", "/api/merges/{id}/undo"): _api(ADMINS, ALL),
    # ---- issue 16's new admin routes (audit, export/erasure, legal hold) ----
    ("GET", "/api/audit"): _api(ADMINS, ALL),
    ("GET", "/console/audit"): Rule(frozenset({"admin"}), ALL, "page"),  # handoff/audit_api.py
    ("GET", "/api/customers/{id}/export"): _api(ADMINS, ALL),
    ("POST", "/api/customers/{id}/erase"): _api(ADMINS, ALL),
    ("GET", "/api/erasures/{id}"): _api(ADMINS, ALL),
    ("GET", "/privacy/export/{token}"): _public("a customer's own export: a signed one-time link"),
    ("PUT", "/api/customers/{id}/legal-hold"): _api(ADMINS, ALL),  # bots/gateway/hold_api.py
    ("DELETE", "/api/customers/{id}/legal-hold"): _api(ADMINS, ALL),
    ("PUT", "/api/tickets/{id}/legal-hold"): _api(ADMINS, ALL),
    ("DELETE", "/api/tickets/{id}/legal-hold"): _api(ADMINS, ALL),
    # ---- the business's events (bots/gateway/events_api.py) ----
    ("POST", "/api/events"): Rule(frozenset({"admin-token"}), ALL, "token"),
    # ---- the API's description (handoff/openapi.py) ----
    ("GET", "/api/openapi.json"): _public("the OpenAPI document of the agent, admin, events APIs"),
    # ---- public: health, metrics, channels' webhooks (signed), the web chat, the simulator ----
    ("GET", "/healthz"): _public("liveness"),
    ("GET", "/readyz"): _public("readiness"),
    ("GET", "/metrics"): _public("Prometheus metrics: counters, no personal data"),
    ("POST", "/webhooks/rest"): _public("REST channel (OMNIRELAY_REST_TOKEN when set)"),
    ("POST", "/webhooks/telegram"): _public("Telegram webhook (secret token header)"),
    ("POST", "/webhooks/viber"): _public("Viber webhook (signature)"),
    ("GET", "/webhooks/instagram"): _public("Instagram webhook verification (verify token)"),
    ("POST", "/webhooks/instagram"): _public("Instagram webhook (signature)"),
    ("GET", "/chat"): _public("the web chat's demo page"),
    ("GET", "/favicon.ico"): _public("the site's icon"),
    ("GET", "/webchat/{name}"): _public("the web chat widget's script and style"),
    ("POST", "/webchat/session"): _public("web chat: the public key, an allowed origin"),
    ("POST", "/webchat/messages"): _public("web chat: key, origin, the signed visitor cookie"),
    ("POST", "/webchat/seen"): _public("web chat: key, origin, the signed visitor cookie"),
    ("GET", "/webchat/events"): _public("web chat's stream: key, origin, the visitor cookie"),
    ("OPTIONS", "/webchat/{path}"): _public("web chat: CORS preflight of an allowed origin"),
    ("GET", "/"): _public("the web chat's demo page, or the simulator page"),
    ("*", "/sandbox/telegram/bot{token}/{method}"): _public("simulator only: fake Telegram"),
    ("POST", "/sandbox/viber/pa/{method}"): _public("simulator only: fake Viber"),
    ("POST", "/sandbox/instagram/{version}/{account}/messages"): _public("simulator only"),
    ("GET", "/simulator/assets/{name}"): _public("simulator only: its page's files"),
    ("POST", "/simulator/{channel}/send"): _public("simulator only (development)"),
    ("GET", "/simulator/{channel}/updates"): _public("simulator only (development)"),
    ("GET", "/simulator/timeline"): _public("simulator only (development)"),
}


def route_key(method: str, path: str) -> tuple[str, str]:
    """The table's key of a request or route (HEAD is GET)."""
    return ("GET" if method == "HEAD" else method, path)


def rule_for(method: str, path: str, rules: Mapping[tuple[str, str], Rule] = RULES) -> Rule | None:
    return rules.get(route_key(method, path))


def caller_of(principal: Principal) -> str:
    """The table's name of a caller: the account's role, or ``admin-token``."""
    return "admin-token" if principal.agent_id is None else principal.role


def rule_of(request: web.Request) -> Rule | None:
    """The rule of the route a request matched."""
    resource = request.match_info.route.resource
    return rule_for(request.method, resource.canonical) if resource is not None else None


def allows(request: web.Request, principal: Principal) -> bool:
    """Whether the route's rule names this caller (no rule: nobody)."""
    rule = rule_of(request)
    return rule is not None and caller_of(principal) in rule.roles


def unruled(
    routes: Iterable[web.AbstractRoute], rules: Mapping[tuple[str, str], Rule] = RULES
) -> list[tuple[str, str]]:
    """The application's routes that have no line in the table."""
    missing: list[tuple[str, str]] = []
    for route in routes:
        resource = route.resource
        if resource is None:
            continue
        key = route_key(route.method, resource.canonical)
        if key not in rules and key not in missing:
            missing.append(key)
    return missing


def in_teams(principal: Principal, ticket: Ticket, queue: HandoffQueue) -> None:
    """The ``queues`` scope: checked before anything else about a ticket (not even its status
    is told to somebody outside its teams)."""
    if not can_see(principal, ticket, queue):
        raise Forbidden("this ticket is not in your queues")


def in_hands(principal: Principal, ticket: Ticket, what: str) -> None:
    """Only the ticket's agent, or a supervisor or admin who sees it, may ``what`` it."""
    if not (principal.supervises or ticket.agent_id == principal.agent_id):
        raise Forbidden(f"only the ticket's agent or a supervisor can {what} it")
