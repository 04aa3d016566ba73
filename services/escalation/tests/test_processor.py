"""The processor turns events and ticks into stored records, escalations and rejections."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from casegold_contracts import (
    ESCALATIONS,
    CommandRejected,
    EscalationRaised,
    Event,
    RepeatComplainantDetected,
    parse,
)
from casegold_contracts.builders import DEFAULT_TIME, make_case_opened, make_event
from casegold_escalation.processor import CaseProcessor, CaseUpdate, Topics, count_customer_case
from casegold_escalation.records import CustomerCase, next_check_of
from casegold_sla import PolicyRegistry, RepeatRule, load_policy
from tests.support import repo_root

T0 = DEFAULT_TIME
CUSTOMERS_TOPIC = "test.customers"


@pytest.fixture
def processor() -> CaseProcessor:
    policy = load_policy(Path(repo_root(), "deploy", "policy", "fast.yaml"))
    return CaseProcessor(PolicyRegistry(policy), Topics(CUSTOMERS_TOPIC))


def fired(outcome: CaseUpdate) -> list[EscalationRaised]:
    events = [parse(m.value) for m in outcome.messages if m.topic == ESCALATIONS]
    assert all(isinstance(e, EscalationRaised) for e in events)
    return [e for e in events if isinstance(e, EscalationRaised)]


def test_opening_stores_the_case_and_schedules_the_warning(processor: CaseProcessor) -> None:
    case_id = uuid4()
    outcome = processor.on_event(None, make_case_opened(case_id=case_id, at=T0, priority="P1"), T0)
    assert outcome.opened and outcome.stored is not None
    # P1 first response is 4 s on the fast policy: the warning is due at 75 %, 3 s in.
    assert outcome.next_check_us == next_check_of(outcome.stored)
    assert outcome.next_check_us == int((T0 + timedelta(seconds=3)).timestamp() * 1_000_000)
    assert fired(outcome) == []
    assert [m.topic for m in outcome.messages] == [CUSTOMERS_TOPIC]


def test_a_redelivered_opening_forwards_the_customer_again_and_stores_nothing_new(
    processor: CaseProcessor,
) -> None:
    opening = make_case_opened(case_id=uuid4(), at=T0, priority="P1")
    first = processor.on_event(None, opening, T0)
    again = processor.on_event(first.stored, opening, T0 + timedelta(seconds=1))
    # The first forward may have died with the crash that redelivered the event.
    assert [m.topic for m in again.messages] == [CUSTOMERS_TOPIC]
    assert [m.value for m in again.messages] == [m.value for m in first.messages]
    assert not again.opened and again.next_check_us == first.next_check_us
    # A different case_opened for an open case is refused, not forwarded.
    other = make_case_opened(case_id=opening.case_id, at=T0, priority="P1")
    refused = processor.on_event(first.stored, other, T0)
    assert refused.rejection is not None and refused.rejection.reason == "case_exists"
    assert CUSTOMERS_TOPIC not in [m.topic for m in refused.messages]


def test_ticks_fire_each_step_once_in_order(processor: CaseProcessor) -> None:
    case_id = uuid4()
    stored = processor.on_event(None, make_case_opened(case_id=case_id, at=T0, priority="P1"), T0)
    record = stored.stored
    steps = []
    for second in range(0, 20):
        now = T0 + timedelta(seconds=second)
        outcome = processor.on_tick(record, now)
        record = outcome.stored
        steps += [(e.payload.milestone, e.payload.step, e.payload.audience) for e in fired(outcome)]
    first_response = [s for s in steps if s[0] == "first_response"]
    assert [s[1] for s in first_response] == ["warning", "tier_1", "tier_2", "tier_3"]
    again = processor.on_tick(record, T0 + timedelta(seconds=20))
    assert not [e for e in fired(again) if e.payload.milestone == "first_response"]


def test_a_command_the_state_machine_refuses_becomes_command_rejected(
    processor: CaseProcessor,
) -> None:
    case_id = uuid4()
    opened = processor.on_event(None, make_case_opened(case_id=case_id, at=T0), T0)
    close = make_event("case_closed", case_id=case_id, at=T0 + timedelta(seconds=1))
    outcome = processor.on_event(opened.stored, close, T0 + timedelta(seconds=1))
    assert outcome.rejection is not None
    assert outcome.stored == opened.stored
    (message,) = outcome.messages
    rejected = parse(message.value)
    assert isinstance(rejected, CommandRejected)
    assert rejected.payload.rejected_event_id == close.event_id
    assert rejected.payload.reason == outcome.rejection.reason
    # The rejection comes back on the same topic: it must neither loop nor change the case.
    echo = processor.on_event(outcome.stored, rejected, T0 + timedelta(seconds=2))
    assert echo.messages == [] and echo.rejection is None


def test_a_sensitive_case_escalates_to_tier_2_at_once(processor: CaseProcessor) -> None:
    opened = make_case_opened(
        case_id=uuid4(), at=T0, sensitive=True, sensitive_reasons=("journalist",)
    )
    outcome = processor.on_event(None, opened, T0)
    tier_2 = [e for e in fired(outcome) if e.payload.step == "tier_2"]
    assert {e.payload.audience for e in tier_2} == {"department_manager", "pr_legal"}
    assert len({e.payload.escalation_id for e in tier_2}) == 1
    assert len({e.event_id for e in tier_2}) == 2


def test_commands_for_an_unknown_case_are_rejected(processor: CaseProcessor) -> None:
    event = make_event("case_acknowledged", case_id=uuid4(), at=T0)
    outcome = processor.on_event(None, event, T0)
    assert outcome.rejection is not None and outcome.rejection.reason == "unknown_case"
    assert outcome.stored is None


def test_a_tick_for_an_unknown_case_does_nothing(processor: CaseProcessor) -> None:
    assert processor.on_tick(None, T0) == CaseUpdate(None, None)


def test_notices_carry_the_timeline_promises_and_earlier_escalations(
    processor: CaseProcessor,
) -> None:
    case_id = uuid4()
    record = processor.on_event(
        None, make_case_opened(case_id=case_id, at=T0, priority="P1"), T0
    ).stored
    promised = make_event(
        "callback_promised",
        case_id=case_id,
        at=T0 + timedelta(seconds=1),
        promise_id="p-1",
        due_at=T0 + timedelta(seconds=2),
    )
    record = processor.on_event(record, promised, T0 + timedelta(seconds=1)).stored
    notices: list[EscalationRaised] = []
    for second in range(2, 6):
        outcome = processor.on_tick(record, T0 + timedelta(seconds=second))
        record = outcome.stored
        notices += fired(outcome)
    broken = [n for n in notices if n.payload.milestone == "promise:p-1"]
    assert broken and broken[0].payload.reason == "broken_promise"
    later = notices[-1].payload.case
    assert [e.type for e in later.recent_events] == ["case_opened", "callback_promised"]
    assert later.summary == "Washing machine leaks after repair"
    assert [(p.promise_id, p.status) for p in later.promises] == [("p-1", "broken")]
    earlier = {p.escalation_id for p in later.prior_escalations}
    assert broken[0].payload.escalation_id in earlier
    assert notices[-1].payload.escalation_id not in earlier


def test_notices_of_a_case_with_a_long_history_still_say_what_it_is_about(
    processor: CaseProcessor,
) -> None:
    case_id = uuid4()
    record = processor.on_event(
        None, make_case_opened(case_id=case_id, at=T0, priority="P1"), T0
    ).stored
    for note in range(6):  # more events than the notice's timeline keeps
        at = T0 + timedelta(milliseconds=100 * (note + 1))
        record = processor.on_event(
            record, make_event("note_added", case_id=case_id, at=at, text=f"note {note}"), at
        ).stored
    notices: list[EscalationRaised] = []
    for second in range(1, 5):
        outcome = processor.on_tick(record, T0 + timedelta(seconds=second))
        record = outcome.stored
        notices += fired(outcome)
    assert notices
    assert "case_opened" not in [e.type for e in notices[-1].payload.case.recent_events]
    assert {n.payload.case.summary for n in notices} == {"Washing machine leaks after repair"}


def test_a_ladder_s_tier_1_is_its_milestone_s_breach(processor: CaseProcessor) -> None:
    record = processor.on_event(None, make_case_opened(case_id=uuid4(), at=T0, priority="P1"), T0)
    warning = processor.on_tick(record.stored, T0 + timedelta(seconds=3))
    breach = processor.on_tick(warning.stored, T0 + timedelta(seconds=4))
    assert [e.breached for e in warning.escalations if e.breached] == []
    assert [e.breached for e in breach.escalations if e.breached] == ["first_response"]


def test_a_customer_s_second_case_within_the_window_repeats_and_a_replay_counts_nothing(
    processor: CaseProcessor,
) -> None:
    rule = processor.registry.current.repeat_rule  # fast policy: 2 cases within 30 days
    opened_us = int(T0.timestamp() * 1_000_000)
    first = CustomerCase("k" * 64, uuid4(), opened_us)
    second = CustomerCase("k" * 64, uuid4(), opened_us + 86_400_000_000)
    record, messages = count_customer_case(None, first, rule, T0)
    assert record is not None and messages == []
    again, (repeated,) = count_customer_case(record, second, rule, T0)
    assert again is not None
    event = parse(repeated.value)
    assert isinstance(event, RepeatComplainantDetected)
    assert event.case_id == second.case_id
    assert event.payload.prior_case_ids == (first.case_id,)
    # Redelivered: nothing to store and nothing to send.
    assert count_customer_case(again, second, rule, T0) == (None, [])
    # A case 31 days after the first one is outside the window.
    late = CustomerCase("k" * 64, uuid4(), opened_us + 31 * 86_400_000_000)
    assert count_customer_case(record, late, rule, T0)[1] == []


def test_any_redelivery_since_the_last_commit_is_a_no_op_not_only_the_last_four_events(
    processor: CaseProcessor,
) -> None:
    case_id = uuid4()

    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    events: list[Event] = [
        make_case_opened(case_id=case_id, at=T0, priority="P2"),
        make_event("customer_awaited", case_id=case_id, at=at(0.5)),
        make_event("case_resumed", case_id=case_id, at=at(1)),
        *(make_event("note_added", case_id=case_id, at=at(1 + n / 10)) for n in range(1, 5)),
        make_event(
            "callback_promised",
            case_id=case_id,
            at=at(2),
            promise_id="p-1",
            due_at=at(30),
        ),
        make_event("promise_kept", case_id=case_id, at=at(2.5), promise_id="p-1"),
        *(make_event("note_added", case_id=case_id, at=at(3 + n / 10)) for n in range(1, 5)),
    ]
    record = None
    for offset, event in enumerate(events):
        record = processor.on_event(record, event, event.occurred_at, offset).stored
    assert record is not None
    # After a crash, everything since the last committed offset comes back, in order.
    for offset in (1, 7):
        again = processor.on_event(record, events[offset], at(5), offset)
        assert again.stored == record, f"offset {offset} applied again"
        assert again.next_check_us == next_check_of(record) and again.messages == []


def test_a_later_opened_case_counted_first_is_detected_once_the_earlier_one_arrives() -> None:
    rule = RepeatRule(cases=2, within=30 * 86_400_000_000)
    opened_us = int(T0.timestamp() * 1_000_000)
    earlier = CustomerCase("k" * 64, uuid4(), opened_us)
    later = CustomerCase("k" * 64, uuid4(), opened_us + 86_400_000_000)
    # Different partitions of the case events: the later case reaches the tally first.
    record, none_yet = count_customer_case(None, later, rule, T0)
    assert none_yet == []
    _, (detected,) = count_customer_case(record, earlier, rule, T0)
    event = parse(detected.value)
    assert isinstance(event, RepeatComplainantDetected)
    assert event.case_id == later.case_id
    assert event.payload.prior_case_ids == (earlier.case_id,)


def test_a_rejection_detail_quoting_a_phone_is_masked_on_the_timeline(
    processor: CaseProcessor,
) -> None:
    case_id = uuid4()
    stored = processor.on_event(None, make_case_opened(case_id=case_id, at=T0), T0).stored
    promise = make_event(
        "callback_promised",
        case_id=case_id,
        at=T0,
        promise_id="call +8613912345678\u0007",
        due_at=T0 + timedelta(hours=1),
    )
    refused = processor.on_event(stored, promise, T0)
    assert refused.rejection is not None and "+8613912345678" in refused.rejection.detail
    [message] = refused.messages
    event = parse(message.value)
    assert isinstance(event, CommandRejected)
    assert event.payload.detail is not None
    assert "+8613912345678" not in event.payload.detail and "5678" in event.payload.detail
