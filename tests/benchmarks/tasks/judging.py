"""Playing one task or one conversation script, and judging whether it was completed: from
the business state (the booking, the cancelled or moved visit) or the replies (the order's
status, the FAQ fact), without a handoff, within ``MAX_TURNS`` customer messages."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

from bots.config import Settings
from bots.flows.backends import SqlBookingBackend
from bots.keys import DATABASE
from tests.benchmarks.tasks.customer import Customer, Outcome
from tests.benchmarks.tasks.generation import Task, entities_of
from tests.benchmarks.tasks.phrases import DEMO_ORDERS, FACTS, MAX_TURNS, PRICES, STATUS
from tests.conversations.runner import (
    FROZEN_NOW,
    KYIV,
    Conversation,
    Reply,
    Script,
    ScriptFailure,
    load_scripts,
    running_app,
)


async def done(customer: Customer, reply: Reply) -> tuple[bool, str | None]:
    """(completed, why the task failed for good or None)."""
    t, text = customer.task, reply.text
    if t.kind == "faq":
        assert t.intent is not None
        fact = FACTS[t.intent][customer.lang]
        named = t.service is not None and "service" in entities_of(t.opening)
        if t.intent == "ask_prices" and named:
            assert t.service is not None
            fact = PRICES[t.service]
        return fact.lower() in text.lower(), None
    if t.kind == "order_status":
        assert t.order is not None
        status = dict(t.my_orders).get(t.order) or DEMO_ORDERS[t.order]
        ok = t.order in text and STATUS[customer.lang][status].lower() in text.lower()
        return ok, None
    bookings = await customer.c.bookings("c")
    if t.kind == "booking":
        if not bookings:
            return False, None
        b = bookings[0]
        assert customer.want is not None
        if b.service_code != t.service or b.starts_at != customer.want:
            return False, (
                f"booked {b.service_code} at {b.starts_at.astimezone(KYIV):%a %d.%m %H:%M}, "
                f"wanted {t.service} at {customer.want:%a %d.%m %H:%M}"
            )
        return True, None
    target = customer.visits[t.target]
    now = {b.reference: b for b in bookings}
    for i, v in enumerate(customer.visits):
        if i != t.target and (v.reference not in now or now[v.reference] != v):
            return False, f"another visit was changed: {v.reference}"
    if t.kind == "cancel":
        return target.reference not in now, None
    moved = now.get(target.reference)
    if moved is None:
        return False, "the visit was cancelled instead of moved"
    return moved.starts_at == customer.want, None


async def play(conversation: Conversation, task: Task) -> Outcome:
    customer = Customer(task, conversation)
    await prepare(conversation, customer)
    customer.transcript.append(customer.setup_note())
    reply: Reply | None = await customer.say(customer.opening(task.opening))
    error: str | None = "too many turns"
    handoff = ok = False
    while reply is not None:
        session = await conversation.session("c")
        ok, fatal = await done(customer, reply)
        if session.handoff:
            ok, handoff = False, True
            reason = session.escalation.reason if session.escalation else None
            error = f"handoff: {reason}"
            break
        if ok or fatal:
            error = fatal
            break
        if conversation.turns_sent["c"] >= MAX_TURNS:
            break
        reply = await customer.answer(reply, session)
        if reply is None:
            error = "the bot dropped the task"
    await cleanup(conversation, customer)
    return Outcome(
        task.kind,
        task.label,
        ok and not handoff,
        handoff,
        conversation.turns_sent["c"],
        None if ok else error,
        task.language,
        task.shape,
        customer.noisy,
        customer.transcript,
    )


async def prepare(conversation: Conversation, customer: Customer) -> None:
    """The customer's name, phone, orders and visits before the task (free slots, so they
    never collide with the demo calendar)."""
    task = customer.task
    spec: dict[str, Any] = {}
    if task.known or task.kind in ("reschedule", "cancel"):
        spec |= {"name": "Olena Petrenko", "phone": "+380501234567"}
    if task.my_orders:
        spec["orders"] = [{"number": n, "status": s} for n, s in task.my_orders]
    conversation.script.customers["c"] = spec
    await conversation.setup()
    if not task.visits:
        return
    backend = SqlBookingBackend(conversation.app[DATABASE], clock=lambda: FROZEN_NOW)
    customer_id = await conversation.customer_id("c")
    codes = customer.rng.sample(sorted(PRICES), len(task.visits))
    for day, code in zip(task.visits, codes, strict=True):
        soon = FROZEN_NOW + dt.timedelta(hours=2)  # an upcoming visit, not one starting now
        free = [
            s
            for s in await backend.free_slots(code, day, day, now=FROZEN_NOW)
            if s.starts_at > soon
        ]
        if not free:
            continue
        slot = customer.rng.choice(free)
        customer.visits.append(
            await backend.book(
                code, slot.starts_at, customer_id=customer_id, name="Olena Petrenko",
                phone="+380501234567", staff_id=slot.staff_id,
            )
        )  # fmt: skip
    task.target = min(task.target, len(customer.visits) - 1)
    if task.kind == "reschedule" and customer.visits:
        task.service = customer.visits[task.target].service_code


async def cleanup(conversation: Conversation, customer: Customer) -> None:
    """Release what the task booked, so every task sees the same demo calendar."""
    with contextlib.suppress(ScriptFailure):
        backend = SqlBookingBackend(conversation.app[DATABASE], clock=lambda: FROZEN_NOW)
        for booking in await conversation.bookings("c"):
            await backend.cancel(booking.reference)


async def run_scripts(settings_for: Any) -> list[Outcome]:
    out = []
    for script in load_scripts():
        designed_handoff = _expects_handoff(script)
        async with running_app(settings_for(script.doc.get("settings") or {})) as client:
            conversation = Conversation(client, script)
            error = None
            try:
                await conversation.setup()
                await conversation.run()
            except ScriptFailure as e:
                error = str(e)
            handoff = False
            for alias in script.customers:
                with contextlib.suppress(ScriptFailure):
                    handoff = handoff or bool((await conversation.session(alias)).handoff)
        kind = "escalation script" if designed_handoff else "script"
        turns = sum(conversation.turns_sent.values())
        language = "uk" if script.path.stem.endswith("_uk") else "en"
        out.append(Outcome(kind, script.path.stem, error is None, handoff, turns, error, language))
    return out


def _expects_handoff(script: Script) -> bool:
    last = script.turns[-1].get("state") or {}
    return last.get("handoff") == "pending"


async def run_variations(settings: Settings, generated: list[Task]) -> list[Outcome]:
    out = []
    async with running_app(settings) as client:
        for task in generated:
            script = Script(task.label, Path(task.kind), {"c": {}}, [{}])
            conversation = Conversation(client, script)
            try:
                out.append(await play(conversation, task))
            except ScriptFailure as e:
                out.append(
                    Outcome(task.kind, task.label, False, False, conversation.turns_sent["c"],
                            str(e), task.language, task.shape)
                )  # fmt: skip
    return out
