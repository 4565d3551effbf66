"""The analytics events of a turn (`storage.analytics.events`), written with the turn itself in
the turn writer's commit (`storage.turns`): a redelivered message whose turn is stored already
writes nothing, and a turn run again after a crash writes the same keys.

From the message: ``message.in`` (handled by the bot, kept for a person, or taken by a gate;
its intent is what the dialogue understood, `bots.flows.understood`), ``fallback`` (answered as
not understood), ``conversation.started`` (the first message after `conversation_gap` of silence),
``proactive.reply``. From the dialogue's notes (`bots.flows.tasks.TaskNotes`) and the session
after the turn: ``task.started`` and, once per task, ``task.ended`` (completed, abandoned, or
``handoff:<cause>``), ``continuation``. The tracker's state lives in the customer's session
(``data["analytics"]``), so it follows the customer across channels and is restored with the
session when a crash is repaired. The definitions are in ``storage/analytics/METRICS.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bots.flows.engine import SUSPENDED
from bots.flows.understanding import from_payload
from bots.identity.sessions import LINKING_FLOW
from bots.messages import InboundMessage
from bots.proactive.hooks_replies import last_proactive
from bots.worker.review import not_understood
from bots.worker.turn import TurnContext
from storage.analytics.events import Event, handoff_cause, phrase
from storage.sessions import Session

__all__ = ["STATE", "TurnAnalytics", "message_key", "note_answer"]

STATE = "analytics"  # the session.data key of the tracker's state


def message_key(msg: InboundMessage) -> str:
    """The events' key for a message: its time on the platform, then its dedup key
    (``20261207T101500Z:telegram:123``). The same on every run of the turn (both are the stored
    message's), and in time order: ``(kind, key)``'s unique index takes each new key at its end,
    where platform ids (a REST message's is a random UUID) put every event on another page of
    it, a page more for each group commit to write."""
    at = msg.timestamp.astimezone(dt.UTC) if msg.timestamp.tzinfo else msg.timestamp
    return f"{at:%Y%m%dT%H%M%SZ}:{msg.dedup_key}"


def note_answer(ctx: TurnContext) -> None:
    """Before the turn changes the session: the proactive message this one may answer."""
    if ctx.session is not None:
        ctx.answers = last_proactive(ctx.session, ctx.now)


@dataclass
class _State:
    conversation: str | None = None
    conversation_at: str | None = None
    last_at: str | None = None
    ticket: int | None = None
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, session: Session) -> _State:
        doc = session.data.get(STATE)
        if not isinstance(doc, dict):
            return cls()
        return cls(
            conversation=doc.get("conversation"),
            conversation_at=doc.get("conversation_at"),
            last_at=doc.get("last_at"),
            ticket=doc.get("ticket"),
            tasks=[dict(t) for t in doc.get("tasks") or () if isinstance(t, dict)],
        )

    def save(self, session: Session) -> None:
        session.data[STATE] = {
            "conversation": self.conversation,
            "conversation_at": self.conversation_at,
            "last_at": self.last_at,
            "ticket": self.ticket,
            "tasks": self.tasks,
        }


class TurnAnalytics:
    """Builds a turn's events; one per worker process."""

    def __init__(
        self,
        gap_hours: float = 24.0,
        topic_for: Callable[[str | None, str | None], str] | None = None,
    ) -> None:
        self.conversation_gap = dt.timedelta(hours=gap_hours)
        self.topic_for = topic_for or (lambda flow, intent: "general")

    def facts(self, ctx: TurnContext) -> list[Event]:
        """The turn's events; the tracker's state in the session is updated (saved with the
        turn's snapshot). Its ``task.started`` are first-contact resolution's contacts
        (`storage.analytics.fcr`)."""
        session, msg = ctx.session, ctx.message
        assert session is not None and ctx.customer_id is not None
        state = _State.of(session)
        events = self._conversation(ctx, state)
        language = session.language or (msg.language_hint or "")[:2].lower() or None
        base: dict[str, Any] = {
            "customer_id": ctx.customer_id,
            "conversation_key": state.conversation,
            "channel": msg.channel,
            "language": language,
        }
        events += _message(ctx, base)
        events += _Tasks(self, ctx, state, base).run()
        if ctx.answers is not None and ctx.answers.get("job_id") is not None:
            events.append(_reply(ctx, ctx.answers, base))
        state.save(session)
        return events

    def _conversation(self, ctx: TurnContext, state: _State) -> list[Event]:
        """A new conversation after a silence of `conversation_gap` (or the first message)."""
        last = dt.datetime.fromisoformat(state.last_at) if state.last_at else None
        state.last_at = ctx.now.isoformat()
        if last is not None and ctx.now - last <= self.conversation_gap:
            return []
        msg, session = ctx.message, ctx.session
        assert session is not None
        state.conversation = message_key(msg)
        state.conversation_at = ctx.now.isoformat()
        return [
            Event(
                kind="conversation.started",
                key=state.conversation,
                at=ctx.now,
                customer_id=ctx.customer_id,
                conversation_key=state.conversation,
                channel=msg.channel,
                language=session.language or (msg.language_hint or "")[:2].lower() or None,
                intent=_intent(ctx),
            )
        ]


def _intent(ctx: TurnContext) -> str | None:
    """The intent the bot acted on (`bots.flows.understood`: a rule's, a button's, the model's,
    or not understood); for a message a gate took, its button's; none for the rest."""
    if ctx.understood is not None:
        return ctx.understood.intent
    if ctx.message.payload:
        understood = from_payload(ctx.message.payload)
        return understood.intent if understood is not None else None
    return None


def _message(ctx: TurnContext, base: dict[str, Any]) -> list[Event]:
    """``message.in`` (who handled it, what the bot understood, the model's confidence) and
    ``fallback`` (the bot answered it as not understood)."""
    if ctx.bot_silent:
        handled = "person"
    elif ctx.parse is not None or ctx.understood is not None or not ctx.gated:
        handled = "bot"
    else:
        handled = "other"  # a CSAT score, an opt-out word: taken before the bot
    key = message_key(ctx.message)
    parse, understood = ctx.parse, ctx.understood
    confidence = float(parse.confidence) if parse is not None else None
    overruled = None  # the model's own reading, kept where the bot acted on another's
    if parse is not None and understood is not None and understood.by != "nlu":
        overruled = {"by": understood.by, "nlu": str(parse.intent)}
    # no customer: nothing reads a message's person (FCR reads tasks and tickets), and a NULL
    # keeps the most frequent kind out of the random pages of the customer index (one page
    # written per message less: bench-analytics, WAL frames per message)
    events = [
        Event(
            kind="message.in",
            key=key,
            at=ctx.now,
            intent=_intent(ctx),
            reason=handled,
            value=confidence,
            data=overruled,
            **{**base, "customer_id": None},
        )
    ]
    if not_understood(ctx):
        # the dialogue's reading, not the model's (`bots.flows.understood`); where the name or
        # the phone was asked, the text is likely one the flow could not read: not kept
        text = None if ctx.personal_answer else phrase(ctx.message.text)
        events.append(Event(kind="fallback", key=key, at=ctx.now, text=text, **base))
    return events


def _reply(ctx: TurnContext, answered: dict[str, Any], base: dict[str, Any]) -> Event:
    """``proactive.reply``: counted at the proactive message's time (its cohort)."""
    sent_at = dt.datetime.fromisoformat(str(answered.get("at")))
    return Event(
        kind="proactive.reply",
        key=str(answered["job_id"]),
        at=sent_at,
        intent=str(answered.get("scenario") or "") or None,
        data={"replied_at": ctx.now.isoformat()},
        **base,
    )


class _Tasks:
    """The task events of one turn (see the module)."""

    def __init__(
        self, analytics: TurnAnalytics, ctx: TurnContext, state: _State, base: dict[str, Any]
    ) -> None:
        self.analytics, self.ctx, self.state, self.base = analytics, ctx, state, base
        self.events: list[Event] = []
        self.started: list[str] = []

    def run(self) -> list[Event]:
        ctx, state = self.ctx, self.state
        session = ctx.session
        assert session is not None
        for flow in ctx.tasks.started:
            for task in [t for t in state.tasks if t["flow"] == flow]:
                self._end(task, "abandoned")  # started again from the beginning
            self._start(flow, None)
        if ctx.tasks.stopped:
            for task in list(state.tasks):
                self._end(task, "abandoned")
        ticket = session.ticket_id
        if ctx.escalation is not None or (ticket is not None and ticket != state.ticket):
            asked = session.escalation.reason if session.escalation is not None else None
            cause = handoff_cause(ctx.escalation or asked or "take_over")
            if not state.tasks:  # a person asked for outside any flow: a task of its own
                self._start(None, _intent(ctx))
            self._end(state.tasks[-1], f"handoff:{cause}")
        if ticket is not None:
            state.ticket = ticket
        suspended = session.data.get(SUSPENDED)
        open_flows = {session.flow, suspended.get("flow") if isinstance(suspended, dict) else None}
        for task in list(state.tasks):
            if task["flow"] not in open_flows:
                self._end(task, "completed")
        return self.events

    def _start(self, flow: str | None, intent: str | None) -> None:
        ctx = self.ctx
        # the n-th task this message started: the same on every run of the turn
        key = f"{message_key(ctx.message)}:{len(self.started)}:{flow or 'handoff'}"
        self.started.append(key)
        topic = self.analytics.topic_for(flow, intent)
        task = {
            "key": key,
            "flow": flow,
            "at": ctx.now.isoformat(),
            "channel": ctx.message.channel,
            "language": self.base["language"],
            "conversation": self.state.conversation,
            "topic": topic,
        }
        self.state.tasks.append(task)
        self.events.append(
            Event(kind="task.started", key=key, at=ctx.now, intent=flow, team=topic, **self.base)
        )

    def _end(self, task: dict[str, Any], outcome: str) -> None:
        """``task.ended`` in the task's own cohort: its start time, channel and language."""
        ctx = self.ctx
        self.state.tasks.remove(task)
        started = dt.datetime.fromisoformat(task["at"])
        common: dict[str, Any] = {
            "key": task["key"],
            "at": started,
            "customer_id": ctx.customer_id,
            "conversation_key": task.get("conversation"),
            "channel": task.get("channel"),
            "language": task.get("language"),
            "intent": task.get("flow"),
            "team": task.get("topic"),
        }
        ended_on = {"ended_at": ctx.now.isoformat(), "ended_on": ctx.message.channel}
        seconds = max(0.0, (ctx.now - started).total_seconds())
        self.events.append(
            Event(kind="task.ended", reason=outcome, value=seconds, data=ended_on, **common)
        )
        moved = task.get("channel") != ctx.message.channel
        # the linking that carries a customer to another channel is the move, not a task
        # continued there: one switch mid-booking is one continuation (the booking's)
        if outcome == "completed" and moved and task.get("flow") != LINKING_FLOW:
            self.events.append(Event(kind="continuation", data=ended_on, **common))
