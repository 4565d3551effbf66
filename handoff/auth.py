"""Agents' credentials: salted scrypt passwords, API tokens, console sessions with CSRF tokens.

Tokens are 256-bit random strings; only their SHA-256 is stored (a token is not guessable, so
a fast hash is enough to make a stolen table useless). Passwords get scrypt with a random salt.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.errors import HandoffError, NotFound
from handoff.models import ANY_TOPIC, ROLES, Agent, AgentSession
from storage.db import Database
from storage.models import utcnow

__all__ = [
    "CHANGEABLE",
    "Principal",
    "change_agent",
    "create_agent",
    "hash_password",
    "hash_token",
    "new_token",
    "revoke_sessions",
    "seen",
    "verify_password",
]

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
SEEN_EVERY = dt.timedelta(seconds=5)  # an agent's presence is written at most this often
LANGUAGES = ("uk", "en")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64 parts)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling the API: an agent, or the admin token (``agent is None``)."""

    agent_id: int | None
    name: str
    role: str
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    csrf_token: str | None = None  # set when authenticated by the console cookie

    @property
    def supervises(self) -> bool:
        """A supervisor or an admin: acts on other agents' tickets (in the teams they see) and
        reads the metrics."""
        return self.role in ("supervisor", "admin")

    @property
    def sees_all(self) -> bool:
        """Sees every team: an admin, or a supervisor with no skills. A supervisor with skills
        oversees their teams (skills x languages, the skill ``*`` every topic), like an agent."""
        return self.role == "admin" or (self.role == "supervisor" and not self.skills)

    @classmethod
    def of(cls, agent: Agent, csrf_token: str | None = None) -> Principal:
        return cls(
            agent.id,
            agent.name,
            agent.role,
            tuple(agent.skills or ()),
            tuple(agent.languages or ()),
            csrf_token,
        )

    @classmethod
    def admin(cls) -> Principal:
        return cls(None, "admin", "admin")


def _clean(values: Sequence[str], what: str, wildcard: str | None = None) -> list[str]:
    cleaned = sorted({v.strip().lower() for v in values if v.strip()})
    for value in cleaned:
        if value == wildcard:
            continue
        if not value.replace("_", "").replace("-", "").isalnum() or len(value) > 64:
            raise HandoffError(f"bad {what} {value!r}")
    return cleaned


async def create_agent(
    db: Database,
    name: str,
    *,
    role: str = "agent",
    skills: Sequence[str] = (),
    languages: Sequence[str] = LANGUAGES,
    max_tickets: int = 3,
    password: str | None = None,
) -> tuple[Agent, str]:
    """Create an agent; returns it with its API token (shown once, stored hashed)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise HandoffError("an agent needs a name of 1-100 characters")
    if role not in ROLES:
        raise HandoffError(f"role must be one of {', '.join(ROLES)}")
    if max_tickets < 1:
        raise HandoffError("max_tickets must be at least 1")
    token = new_token()
    password_hash = await asyncio.to_thread(hash_password, password) if password else None
    agent = Agent(
        name=name,
        role=role,
        skills=_clean(skills, "skill", wildcard=ANY_TOPIC),
        languages=_clean(languages, "language") or list(LANGUAGES),
        max_tickets=max_tickets,
        load=0,
        status="away",
        password_hash=password_hash,
        token_hash=hash_token(token),
    )
    try:
        async with db.transaction() as s:
            s.add(agent)
    except IntegrityError as e:
        raise HandoffError(f"an agent named {name!r} exists already") from e
    return agent, token


CHANGEABLE = ("role", "skills", "languages", "max_tickets", "password")


async def change_agent(db: Database, agent_id: int, changes: Mapping[str, Any]) -> Agent:
    """Change an agent's ``CHANGEABLE`` fields (already type-checked); a new password ends
    every console session of theirs."""
    values: dict[str, Any] = {}
    if "role" in changes:
        if changes["role"] not in ROLES:
            raise HandoffError(f"role must be one of {', '.join(ROLES)}")
        values["role"] = changes["role"]
    if "skills" in changes:
        values["skills"] = _clean(changes["skills"], "skill", wildcard=ANY_TOPIC)
    if "languages" in changes:
        values["languages"] = _clean(changes["languages"], "language")
        if not values["languages"]:
            raise HandoffError("an agent needs at least one language")
    if "max_tickets" in changes:
        if changes["max_tickets"] < 1:
            raise HandoffError("max_tickets must be at least 1")
        values["max_tickets"] = changes["max_tickets"]
    if changes.get("password"):
        values["password_hash"] = await asyncio.to_thread(hash_password, changes["password"])
    async with db.transaction() as s:
        agent = await s.get(Agent, agent_id)
        if agent is None:
            raise NotFound("no such agent")
        for key, value in values.items():
            setattr(agent, key, value)
        if "password_hash" in values:
            await s.execute(delete(AgentSession).where(AgentSession.agent_id == agent_id))
            await _away_without_sessions(s, agent_id)
    return agent


async def agent_by_token(db: Database, token: str) -> Agent | None:
    async with db.session() as s:
        return await s.scalar(select(Agent).where(Agent.token_hash == hash_token(token)))


async def agent_id_named(db: Database, name: str) -> int | None:
    """The id of the agent with this name (case as stored, surrounding blanks ignored)."""
    async with db.session() as s:
        return await s.scalar(select(Agent.id).where(Agent.name == name.strip()))


async def login(
    db: Database, name: str, password: str, ttl: dt.timedelta
) -> tuple[Agent, str, str]:
    """Check name + password; returns the agent, a session token and its CSRF token."""
    async with db.session() as s:
        agent = await s.scalar(select(Agent).where(Agent.name == name.strip()))
    ok = await asyncio.to_thread(verify_password, password, agent.password_hash if agent else None)
    if agent is None or not ok:
        raise NotFound("unknown name or wrong password")
    token, csrf = new_token(), new_token()
    now = utcnow()
    async with db.transaction() as s:
        await s.execute(
            delete(AgentSession).where(
                AgentSession.agent_id == agent.id, AgentSession.expires_at < now
            )
        )
        s.add(
            AgentSession(
                token_hash=hash_token(token),
                agent_id=agent.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + ttl,
            )
        )
    return agent, token, csrf


async def session_principal(db: Database, token: str) -> Principal | None:
    async with db.session() as s:
        row = (
            await s.execute(
                select(AgentSession, Agent)
                .join(Agent, Agent.id == AgentSession.agent_id)
                .where(AgentSession.token_hash == hash_token(token))
            )
        ).first()
    if row is None:
        return None
    session, agent = row
    if session.expires_at <= utcnow():
        return None
    return Principal.of(agent, csrf_token=session.csrf_token)


async def logout(db: Database, token: str) -> int | None:
    """End one console session; returns its agent's id (None: no such session). Their last
    session ended: the agent is away (nobody is promised their answer any more)."""
    async with db.transaction() as s:
        agent_id = await s.scalar(
            delete(AgentSession)
            .where(AgentSession.token_hash == hash_token(token))
            .returning(AgentSession.agent_id)
        )
        if agent_id is not None:
            await _away_without_sessions(s, agent_id)
    return agent_id


async def revoke_sessions(db: Database, agent_id: int) -> int:
    """End every console session of an agent, who is away then; returns how many there were."""
    async with db.transaction() as s:
        rows = await s.scalars(
            delete(AgentSession)
            .where(AgentSession.agent_id == agent_id)
            .returning(AgentSession.token_hash)
        )
        count = len(rows.all())
        await _away_without_sessions(s, agent_id)
        return count


async def _away_without_sessions(s: AsyncSession, agent_id: int) -> None:
    left = await s.scalar(
        select(func.count(AgentSession.token_hash)).where(
            AgentSession.agent_id == agent_id, AgentSession.expires_at > utcnow()
        )
    )
    if not left:
        await s.execute(update(Agent).where(Agent.id == agent_id).values(status="away"))


async def seen(db: Database, agent_id: int, now: dt.datetime) -> None:
    """The agent showed life (a console request, an open console event stream): their
    presence (`handoff.routing.present`), in the database for every process. Written at most
    every `SEEN_EVERY`."""
    async with db.transaction() as s:
        await s.execute(
            update(Agent)
            .where(
                Agent.id == agent_id,
                or_(Agent.last_seen_at.is_(None), Agent.last_seen_at < now - SEEN_EVERY),
            )
            .values(last_seen_at=now)
        )
