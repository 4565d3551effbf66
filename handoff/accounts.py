"""Agents' accounts and console sessions: the agent list (admin) and the transfer list (id,
name, status: everyone), creating agents, logging out and revoking sessions (one's own, or an
admin revoking an agent's). Each change is written to the audit log (`storage.audit`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select

from handoff import auth
from handoff.auth import Principal
from handoff.config import HandoffConfig
from handoff.errors import HandoffError, NotFound
from handoff.login import COOKIE, record
from handoff.models import Agent
from handoff.views import agent_json
from storage.db import Database

__all__ = ["Accounts", "json_body", "text_field"]


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        doc = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HandoffError("the body must be a JSON object") from e
    if not isinstance(doc, dict):
        raise HandoffError("the body must be a JSON object")
    return doc


def text_field(doc: dict[str, Any], key: str, *, required: bool = True, limit: int = 4000) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise HandoffError(f"{key!r} must be a non-empty string")
    if len(value) > limit:
        raise HandoffError(f"{key!r} is longer than {limit} characters")
    return value


class Accounts:
    """The handlers (behind the console API's guard); ``db`` gives the app's database."""

    def __init__(self, config: HandoffConfig, db: Callable[[web.Request], Database]) -> None:
        self.config = config
        self.db = db

    async def logout(self, request: web.Request, principal: Principal) -> web.Response:
        cookie = request.cookies.get(COOKIE)
        db = self.db(request)
        if cookie and await auth.logout(db, cookie) is not None:
            await self._audit(request, "session.revoked", principal, detail={"how": "logout"})
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path="/")
        return response

    async def revoke_mine(self, request: web.Request, principal: Principal) -> web.Response:
        """Every console session of the caller ends (this one too)."""
        if principal.agent_id is None:
            raise HandoffError("the admin token has no sessions")
        count = await auth.revoke_sessions(self.db(request), principal.agent_id)
        detail = {"how": "own", "sessions": count}
        await self._audit(request, "session.revoked", principal, detail=detail)
        response = web.json_response({"revoked": count})
        response.del_cookie(COOKIE, path="/")
        return response

    async def revoke_agent(self, request: web.Request, principal: Principal) -> web.Response:
        """An admin ends every console session of an agent."""
        agent_id = int(request.match_info["id"])
        async with self.db(request).session() as s:
            if await s.get(Agent, agent_id) is None:
                raise NotFound("no such agent")
        count = await auth.revoke_sessions(self.db(request), agent_id)
        await self._audit(
            request,
            "session.revoked",
            principal,
            target_type="agent",
            target_id=agent_id,
            detail={"how": "admin", "sessions": count},
        )
        return web.json_response({"agent_id": agent_id, "revoked": count})

    async def _audit(
        self, request: web.Request, action: str, principal: Principal, **fields: Any
    ) -> None:
        trusted = self.config.login.trusted_proxies
        await record(request, self.db(request), action, principal, trusted, **fields)

    async def agents(self, request: web.Request, principal: Principal) -> web.Response:
        async with self.db(request).session() as s:
            rows = await s.scalars(select(Agent).order_by(Agent.name))
            return web.json_response({"agents": [agent_json(a) for a in rows]})

    async def agent_names(self, request: web.Request, principal: Principal) -> web.Response:
        """Who a ticket may be transferred to: every agent's id, name and status only."""
        async with self.db(request).session() as s:
            rows = (
                await s.execute(select(Agent.id, Agent.name, Agent.status).order_by(Agent.name))
            ).all()
        return web.json_response(
            {"agents": [{"id": i, "name": n, "status": st} for i, n, st in rows]}
        )

    async def add_agent(self, request: web.Request, principal: Principal) -> web.Response:
        doc = await json_body(request)
        skills, languages = doc.get("skills", []), doc.get("languages", ["uk", "en"])
        if not _strings(skills) or not _strings(languages):
            raise HandoffError("skills and languages are lists of strings")
        max_tickets = doc.get("max_tickets", 3)
        if not isinstance(max_tickets, int):
            raise HandoffError("max_tickets is an integer")
        password = doc.get("password")
        if password is not None and not isinstance(password, str):
            raise HandoffError("password is a string")
        agent, token = await auth.create_agent(
            self.db(request),
            text_field(doc, "name", limit=100),
            role=str(doc.get("role", "agent")),
            skills=skills,
            languages=languages,
            max_tickets=max_tickets,
            password=password,
        )
        detail = {"role": agent.role, "skills": list(agent.skills), "has_password": bool(password)}
        await self._audit(
            request,
            "agent.created",
            principal,
            target_type="agent",
            target_id=agent.id,
            detail=detail,
        )
        return web.json_response({**agent_json(agent), "token": token}, status=201)

    async def change_agent(self, request: web.Request, principal: Principal) -> web.Response:
        """``PATCH /api/agents/{id}``: role, skills, languages, max_tickets and/or password (a
        new password ends the agent's console sessions)."""
        doc = await json_body(request)
        unknown = sorted(set(doc) - set(auth.CHANGEABLE))
        if unknown or not doc:
            raise HandoffError(f"give some of {', '.join(auth.CHANGEABLE)}")
        for key, ok in (
            ("role", isinstance(doc.get("role", ""), str)),
            ("skills", _strings(doc.get("skills", []))),
            ("languages", _strings(doc.get("languages", []))),
            ("max_tickets", type(doc.get("max_tickets", 1)) is int),
            ("password", isinstance(doc.get("password", "x"), str) and doc.get("password") != ""),
        ):
            if not ok:
                raise HandoffError(f"{key} has the wrong type")
        agent = await auth.change_agent(self.db(request), int(request.match_info["id"]), doc)
        await self._audit(
            request,
            "agent.changed",
            principal,
            target_type="agent",
            target_id=agent.id,
            detail={"fields": sorted(doc), "role": agent.role},
        )
        return web.json_response(agent_json(agent))


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
