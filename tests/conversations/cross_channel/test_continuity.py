"""The continuity measure itself, on hand-made turn records."""

from __future__ import annotations

from tests.conversations.cross_channel.continuity import TurnRecord, continuity, given_slots


def rec(
    index: int,
    channel: str,
    *,
    given: frozenset[str] = frozenset(),
    flow: str | None,
    asked: str | None,
) -> TurnRecord:
    previous_switch = index > 1 and channel != "instagram"
    return TurnRecord(index, "c", channel, previous_switch and bool(given), frozenset(given),
                      flow, asked)  # fmt: skip


def test_asking_again_for_a_given_slot_after_the_switch_breaks_continuity() -> None:
    records = [
        rec(1, "instagram", flow="booking", asked="date"),
        rec(2, "telegram", given=frozenset({"service", "date"}), flow="booking", asked="date"),
    ]
    result = continuity(records)
    assert result.applies and not result.continued
    assert result.repeats == [
        "turn 2 (telegram): asked for date again, given before the switch at turn 2"
    ]


def test_asking_only_for_what_is_missing_keeps_continuity() -> None:
    records = [
        rec(1, "instagram", flow="booking", asked="date"),
        rec(2, "telegram", given=frozenset({"service", "date"}), flow="booking", asked="time"),
        rec(3, "telegram", flow="booking", asked="phone"),
        rec(4, "telegram", flow=None, asked=None),
        # a new task after the first ended may ask for a service again
        TurnRecord(5, "c", "telegram", False, frozenset(), "booking", "service"),
    ]
    result = continuity(records)
    assert result.applies and result.continued and result.switches == 1


def test_a_switch_with_nothing_given_does_not_count_and_a_failed_script_never_continues() -> None:
    records = [
        rec(1, "instagram", flow=None, asked=None),
        rec(2, "telegram", flow=None, asked=None),
    ]
    assert not continuity(records).applies
    records = [
        rec(1, "instagram", flow="booking", asked="date"),
        rec(2, "telegram", given=frozenset({"service"}), flow="booking", asked="date"),
    ]
    assert not continuity(records, failed=True).continued


def test_given_slots_include_a_suspended_flow_and_the_profile() -> None:
    data = {
        "suspended": {"flow": "booking", "slots": {"service": "cleaning", "_choices": ["x"]}},
        "profile": {"name": "Olena", "phone": None},
    }
    assert given_slots({"date": "2026-03-11", "time": ""}, data) == {"date", "service", "name"}
