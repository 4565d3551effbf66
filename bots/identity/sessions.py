"""What happens to the dialogue sessions when identities move between customers: which
session a merge keeps, the tombstone of an absorbed profile, the task a link made by an event
resumes, and what an undone merge gives back.

Pure functions over `storage.sessions.Session`; the locking and storing is `bots.identity.merges`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from storage.sessions import Session

LINKING_FLOW = "linking"
SUSPENDED = "suspended"  # the dialogue's key for a flow interrupted by another (flows.engine)
PROFILE = "profile"  # the contact the customer gave in the dialogue (`note_contact`)
ADOPTED = "task_adopted"  # in a merge's stored session: the survivor took over its task
_RESTORED = (
    "language",
    "flow",
    "step",
    "slots",
    "last_channel",
    "data",
    "handoff",
    "conversation_id",
    "ticket_id",
    "escalation",
)


def note_contact(session: Session, *, name: str | None = None, phone: str | None = None) -> None:
    """A name or phone the customer gave, or a link confirmed, kept where every flow looks
    before asking for one (``data["profile"]``, as a booking keeps its contact): what was just
    shared is not asked for again, whatever the turn's cached view of the profile says."""
    profile = dict(session.data.get(PROFILE) or {})
    if name:
        profile["name"] = name
    if phone:
        profile["phone"] = phone
    session.data[PROFILE] = profile


def has_task(session: Session) -> bool:
    """An unfinished task: a flow other than linking, or one that linking interrupted."""
    if session.flow == LINKING_FLOW:
        return bool(session.data.get(SUSPENDED))
    return session.flow is not None


def prefer(candidate: Session, current: Session) -> bool:
    """Does ``candidate`` (the absorbed profile's session) beat ``current``? An unfinished task
    wins; otherwise the newer one."""
    if has_task(candidate) != has_task(current):
        return has_task(candidate)
    return candidate.updated_at > current.updated_at


def adoptable_by_code(current: Session, absorbed: Session) -> bool:
    """A phone code typed in ``current`` (the linking flow): does the other profile's task (a
    booking started there) continue here? Yes, unless this conversation has its own waiting."""
    return absorbed.flow not in (None, LINKING_FLOW) and not current.data.get(SUSPENDED)


def adopt(into: Session, other: Session) -> Session:
    """``into`` (keeping its customer id, version and open conversation) carrying the dialogue
    state of ``other`` (its ticket and escalation too)."""
    data: dict[str, Any] = {**other.data}
    data.pop("merged_into", None)
    return dataclasses.replace(
        into,
        language=other.language or into.language,
        flow=other.flow,
        step=other.step,
        slots=dict(other.slots),
        fallback_count=0,
        data=data,
        conversation_id=into.conversation_id or other.conversation_id,
        ticket_id=other.ticket_id,
        escalation=other.escalation,
    )


def continue_here(session: Session, absorbed: Session) -> None:
    """The absorbed profile's task goes on in ``session`` (a turn's, which keeps its language
    and what it has of its own): flow, step and slots from ``absorbed``, its other state where
    ``session`` has none."""
    merged = adopt(session, absorbed)
    session.flow, session.step = merged.flow, merged.step
    session.slots = merged.slots
    for key, value in merged.data.items():
        session.data.setdefault(key, value)
    session.conversation_id = session.conversation_id or merged.conversation_id
    session.ticket_id = session.ticket_id or merged.ticket_id
    session.escalation = session.escalation or merged.escalation


def merge_snapshot(gone: Session, *, adopted: bool) -> dict[str, Any]:
    """The absorbed session as a merge record keeps it (for an undo)."""
    return {**gone.to_dict(), ADOPTED: adopted}


def tombstone(customer_id: int, version: int, survivor: int, merge_id: int) -> Session:
    """The session of a profile merged away: workers that still map an identity to it see
    ``merged_into`` and look the identity up again."""
    tomb = Session(customer_id, version=version)
    tomb.data = {"merged_into": survivor, "merge_id": merge_id}
    return tomb


def resume_interrupted(session: Session) -> bool:
    """End the linking flow that offered a link (the link was made by an event, with no turn
    of the dialogue after it) and put back the task it interrupted. False: nothing to do."""
    if session.flow != LINKING_FLOW:
        return False
    saved = session.data.pop(SUSPENDED, None)
    if isinstance(saved, dict) and saved.get("flow"):
        session.flow, session.step = saved["flow"], saved.get("step")
        session.slots = dict(saved.get("slots") or {})
    else:
        session.flow, session.step, session.slots = None, None, {}
    return True


def _works_on(session: Session, flow: str) -> bool:
    """Is ``flow`` active in ``session``, or waiting there for a digression to end?"""
    if session.flow == flow:
        return True
    saved = session.data.get(SUSPENDED)
    return isinstance(saved, dict) and saved.get("flow") == flow


def restored(
    snapshot: dict[str, Any] | None, customer_id: int, version: int, survivor: Session
) -> Session:
    """The absorbed profile's session after an undo: as it was at the merge, except for its
    unfinished task when the survivor took that over and it is no longer open there (the
    customer completed or dropped it during the merge: it must not come back)."""
    old = snapshot or {}
    at_merge = Session.from_dict({**old, "customer_id": customer_id})
    session = Session(customer_id, version=version)
    for name in _RESTORED:
        setattr(session, name, getattr(at_merge, name))
    task = session.flow
    if session.flow == LINKING_FLOW:
        saved = session.data.get(SUSPENDED)
        task = saved.get("flow") if isinstance(saved, dict) else None
    if old.get(ADOPTED) and task is not None and not _works_on(survivor, task):
        session.flow, session.step, session.slots = None, None, {}
        session.data.pop(SUSPENDED, None)
    return session
