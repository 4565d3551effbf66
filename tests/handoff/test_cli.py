"""`omnirelay agent add` prints a working token once; the password logs in."""

from __future__ import annotations

import asyncio

import pytest

from bots.cli import main
from handoff.auth import agent_by_token, verify_password
from storage.audit import list_audit
from storage.db import Database


async def _lookup(url: str, token: str) -> tuple[str, str, list[str], list[str], bool]:
    db = Database(url)
    try:
        agent = await agent_by_token(db, token)
        async with db.session() as s:
            entries = await list_audit(s, action="agent.created")
    finally:
        await db.dispose()
    assert agent is not None
    # the account is in the audit log, made by the command line, without its secrets
    assert [(e.actor, e.target_id) for e in entries] == [("cli", str(agent.id))]
    assert entries[0].detail == {"role": agent.role, "skills": agent.skills, "has_password": True}
    return (
        agent.name,
        agent.role,
        agent.skills,
        agent.languages,
        verify_password("pw-1", agent.password_hash),
    )


def test_agent_add(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OMNIRELAY_DATABASE_URL", database_url)
    argv = ["agent", "add", "Olena", "--skills", "orders, general", "--languages", "uk"]
    assert main([*argv, "--role", "supervisor", "--password", "pw-1"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40
    found = asyncio.run(_lookup(database_url, token))
    assert found == ("Olena", "supervisor", ["general", "orders"], ["uk"], True)
    assert main(["agent", "add", "Olena"]) == 1
    assert "exists already" in capsys.readouterr().out
