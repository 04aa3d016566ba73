"""The state machine: every command from every status, accepted or rejected, and its effects."""

from datetime import timedelta
from typing import Any

import pytest

from casegold_contracts import CaseResolved, RootCause
from casegold_sla import CaseState, PolicySet, Rejection, dump_state, evolve, load_policy_text
from casegold_sla.durations import DAY, HOUR
from casegold_sla.instants import to_us

from .conftest import POLICY_DIR, at, event, fold, uuid_of

STATUSES = (
    "open",
    "acknowledged",
    "in_progress",
    "solution_agreed",
    "awaiting_customer",
    "resolved",
    "closed",
    "reopened",
)

# The commands (as their events) that lead from `open` to each status.
PATHS: dict[str, tuple[str, ...]] = {
    "open": (),
    "acknowledged": ("case_acknowledged",),
    "in_progress": ("case_acknowledged", "customer_contacted"),
    "solution_agreed": ("case_acknowledged", "customer_contacted", "solution_agreed"),
    "awaiting_customer": ("case_acknowledged", "customer_awaited"),
    "resolved": ("case_acknowledged", "customer_contacted", "case_resolved"),
    "closed": ("case_acknowledged", "customer_contacted", "case_resolved", "case_closed"),
    "reopened": ("case_acknowledged", "case_resolved", "case_reopened"),
}

SAME = "unchanged"
REJECT = "invalid_transition"
UNRESOLVED = (
    "open",
    "acknowledged",
    "in_progress",
    "solution_agreed",
    "awaiting_customer",
    "reopened",
)


def row(accepted: dict[str, str], default: str = REJECT) -> dict[str, str]:
    """The outcome per status: the new status, SAME, or a rejection reason."""
    return {status: accepted.get(status, default) for status in STATUSES}


# SPEC §3: outcome of each command in each status.
TRANSITIONS: dict[str, dict[str, str]] = {
    "case_acknowledged": row({"open": "acknowledged"}),
    "customer_contacted": row(
        {
            "open": "in_progress",
            "acknowledged": "in_progress",
            "in_progress": SAME,
            "solution_agreed": SAME,
            "reopened": "in_progress",
        }
    ),
    "solution_agreed": row(
        {
            "acknowledged": "solution_agreed",
            "in_progress": "solution_agreed",
            "reopened": "solution_agreed",
        }
    ),
    "customer_awaited": row(
        {s: "awaiting_customer" for s in UNRESOLVED if s != "awaiting_customer"}
    ),
    "case_resumed": row({"awaiting_customer": "acknowledged"}),
    "case_resolved": row(dict.fromkeys(UNRESOLVED, "resolved")),
    "case_closed": row({"resolved": "closed"}),
    "case_reopened": row({"resolved": "reopened", "closed": "reopened"}),
    "case_assigned": row({}, default=SAME) | {"closed": REJECT},
    "priority_set": row({}, default=SAME) | {"closed": REJECT},
    "callback_promised": row(dict.fromkeys(UNRESOLVED, SAME)),
    "case_handed_to_dealer": row(dict.fromkeys(UNRESOLVED, SAME)),
    "note_added": row({}, default=SAME),
}


def reach(policies: PolicySet, status: str) -> CaseState:
    """A P3 case brought to `status`, one hour per step."""
    events = [event("case_opened")]
    events += [event(kind, at(hour + 1)) for hour, kind in enumerate(PATHS[status])]
    state = fold(policies, *events)
    assert state.status == status
    return state


CASES = [
    (kind, status, outcome)
    for kind, row_ in TRANSITIONS.items()
    for status, outcome in row_.items()
]


@pytest.mark.parametrize(("kind", "status", "outcome"), CASES)
def test_transition(default_policy: PolicySet, kind: str, status: str, outcome: str) -> None:
    before = reach(default_policy, status)
    result = evolve(before, event(kind, at(10)), default_policy)
    if outcome == REJECT:
        assert isinstance(result, Rejection)
        assert result.reason == REJECT
        assert kind in result.detail and status in result.detail
        return
    assert isinstance(result, CaseState)
    assert result.status == (status if outcome == SAME else outcome)
    assert result is not before


def test_events_before_case_opened_are_rejected(default_policy: PolicySet) -> None:
    result = evolve(None, event("case_acknowledged"), default_policy)
    assert result == Rejection("unknown_case", "case_acknowledged for a case that was never opened")


def test_second_case_opened_is_rejected(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened"))
    result = evolve(state, event("case_opened", at(1)), default_policy)
    assert isinstance(result, Rejection) and result.reason == "case_exists"


def test_redelivered_event_is_a_no_op(default_policy: PolicySet) -> None:
    opened = event("case_opened", event_id=uuid_of(1))
    state = fold(default_policy, opened)
    assert evolve(state, opened, default_policy) is state
    awaited = event("customer_awaited", at(1), event_id=uuid_of(2))
    paused = fold(default_policy, awaited, state=state)
    # Without the remembered id this would be rejected (already awaiting the customer).
    assert evolve(paused, awaited, default_policy) is paused


def test_only_the_last_four_events_are_remembered(default_policy: PolicySet) -> None:
    notes = [event("note_added", at(n), event_id=uuid_of(10 + n)) for n in range(5)]
    state = fold(default_policy, event("case_opened", event_id=uuid_of(1)), *notes)
    for note in notes[1:]:
        assert evolve(state, note, default_policy) is state
    assert evolve(state, notes[0], default_policy) is not state


def test_command_rejected_events_change_nothing(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened"))
    assert evolve(state, event("command_rejected", at(1)), default_policy) is state


def test_resume_returns_to_the_status_before_the_pause(default_policy: PolicySet) -> None:
    state = reach(default_policy, "solution_agreed")
    state = fold(
        default_policy, event("customer_awaited", at(5)), event("case_resumed", at(6)), state=state
    )
    assert state.status == "solution_agreed"


def test_resolve_without_root_cause_is_rejected(default_policy: PolicySet) -> None:
    state = reach(default_policy, "in_progress")
    resolved = event("case_resolved", at(5))
    assert isinstance(resolved, CaseResolved)
    blank = RootCause.model_construct(category=" ", text=" ")
    hollow = resolved.model_copy(
        update={"payload": resolved.payload.model_copy(update={"root_cause": blank})}
    )
    result = evolve(state, hollow, default_policy)
    assert isinstance(result, Rejection) and result.reason == "root_cause_required"


@pytest.mark.parametrize(
    ("kind", "fields", "reason"),
    [
        ("promise_kept", {"promise_id": "never-made"}, "unknown_promise"),
        ("dealer_responded", {}, "no_dealer_clock"),
        ("dealer_solution_agreed", {}, "no_dealer_clock"),
    ],
)
def test_rejections_with_their_own_reason(
    default_policy: PolicySet, kind: str, fields: dict[str, Any], reason: str
) -> None:
    state = reach(default_policy, "in_progress")
    result = evolve(state, event(kind, at(5), **fields), default_policy)
    assert isinstance(result, Rejection) and result.reason == reason


def test_handing_to_a_dealer_twice_is_rejected_until_a_new_cycle(default_policy: PolicySet) -> None:
    state = fold(
        default_policy,
        event("case_opened"),
        event("case_handed_to_dealer", at(1), dealer_id="D1"),
    )
    assert state.dealer_id == "D1" and state.dealer_round == 1
    again = evolve(state, event("case_handed_to_dealer", at(2), dealer_id="D2"), default_policy)
    assert isinstance(again, Rejection) and again.reason == "dealer_clock_running"
    state = fold(
        default_policy,
        event("case_resolved", at(3)),
        event("case_reopened", at(4)),
        event("case_handed_to_dealer", at(5), dealer_id="D2"),
        state=state,
    )
    assert state.dealer_round == 2
    assert {m.name: m.cycle for m in state.milestones if m.name.startswith("dealer")} == {
        "dealer_first_response": 2,
        "dealer_solution_agreed": 2,
        "dealer_resolution": 2,
    }


def names(state: CaseState) -> list[tuple[str, int]]:
    """Running milestones as (name, cycle)."""
    return [(m.name, m.cycle) for m in state.milestones]


@pytest.mark.parametrize(
    ("events", "running"),
    [
        ((), [("first_response", 1), ("solution_agreed", 1), ("resolution", 1)]),
        (("case_acknowledged",), [("solution_agreed", 1), ("resolution", 1)]),
        (("customer_contacted",), [("solution_agreed", 1), ("resolution", 1)]),
        (("case_acknowledged", "solution_agreed"), [("resolution", 1)]),
        (("case_resolved",), [("revisit", 1)]),
        (("case_resolved", "revisit_outcome_recorded"), []),
        (("case_resolved", "case_closed"), []),
        (("case_resolved", "case_reopened"), [("resolution", 2), ("reopened", 2)]),
        (("case_handed_to_dealer", "dealer_responded"), [
            ("first_response", 1), ("solution_agreed", 1), ("resolution", 1),
            ("dealer_solution_agreed", 1), ("dealer_resolution", 1),
        ]),
        (("case_handed_to_dealer", "dealer_solution_agreed"), [
            ("first_response", 1), ("solution_agreed", 1), ("resolution", 1),
            ("dealer_resolution", 1),
        ]),
        (("case_handed_to_dealer", "case_resolved"), [("revisit", 1)]),
        (("callback_promised",), [
            ("first_response", 1), ("solution_agreed", 1), ("resolution", 1),
            ("promise:promise-1", 1),
        ]),
        (("callback_promised", "promise_kept"), [
            ("first_response", 1), ("solution_agreed", 1), ("resolution", 1),
        ]),
        (("callback_promised", "customer_contacted"), [("solution_agreed", 1), ("resolution", 1)]),
        (("callback_promised", "case_resolved"), [("revisit", 1)]),
        (("repeat_complainant_detected",), [
            ("first_response", 1), ("solution_agreed", 1), ("resolution", 1),
            ("repeat_complainant", 1),
        ]),
    ],
)  # fmt: skip
def test_events_start_and_end_milestones(
    default_policy: PolicySet, events: tuple[str, ...], running: list[tuple[str, int]]
) -> None:
    steps = [event(kind, at(n + 1)) for n, kind in enumerate(events)]
    state = fold(default_policy, event("case_opened"), *steps)
    assert names(state) == running


def test_sensitive_case_starts_its_immediate_escalation(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened", sensitive=True, sensitive_reasons=("记者",)))
    assert ("sensitive", 1) in names(state)


def test_set_priority_keeps_running_targets_and_applies_to_new_clocks(
    default_policy: PolicySet,
) -> None:
    state = fold(
        default_policy,
        event("case_opened", priority="P3"),
        event("priority_set", at(1), priority="P1"),
    )
    assert state.priority == "P1"
    targets = {m.name: m.rule.target for m in state.milestones}
    assert targets == {
        "first_response": 12 * HOUR,
        "solution_agreed": 5 * DAY,
        "resolution": 15 * DAY,
    }
    state = fold(
        default_policy, event("case_resolved", at(2)), event("case_reopened", at(3)), state=state
    )
    resolution = state.milestone("resolution")
    assert resolution is not None and resolution.rule.target == 3 * DAY and resolution.cycle == 2


def test_policy_is_frozen_when_the_case_opens(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened", priority="P1"))
    edited_text = (POLICY_DIR / "default.yaml").read_text(encoding="utf-8")
    edited = load_policy_text(edited_text.replace("{P1: 1h, P2: 4h", "{P1: 10m, P2: 4h"), "edited")
    later = evolve(state, event("note_added", at(1)), edited)
    assert isinstance(later, CaseState)
    assert later.policy is state.policy
    first_response = later.milestone("first_response")
    assert first_response is not None and first_response.rule.target == HOUR
    fresh = fold(edited, event("case_opened", priority="P1"))
    fresh_response = fresh.milestone("first_response")
    assert fresh_response is not None and fresh_response.rule.target == 10 * 60 * 1_000_000
    assert fresh.policy.version != state.policy.version


def test_pause_freezes_the_odometer_and_resume_restarts_it(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened"), event("customer_awaited", at(2)))
    assert state.paused and state.anchor_offset == 2 * HOUR
    state = fold(default_policy, event("note_added", at(5)), state=state)
    assert state.anchor_offset == 2 * HOUR
    state = fold(default_policy, event("case_resumed", at(7)), state=state)
    assert not state.paused and state.anchor_offset == 2 * HOUR
    assert state.anchor_at == to_us(at(7))
    # Clocks started while paused start at the frozen reading.
    state = fold(
        default_policy,
        event("customer_awaited", at(8)),
        event("case_handed_to_dealer", at(9)),
        state=state,
    )
    dealer = state.milestone("dealer_first_response")
    assert dealer is not None and dealer.start == 3 * HOUR


def test_an_earlier_clock_on_an_event_never_runs_the_odometer_backwards(
    default_policy: PolicySet,
) -> None:
    state = fold(default_policy, event("case_opened", at(5)), event("customer_awaited", at(4)))
    assert state.anchor_offset == 0
    assert state.anchor_at == fold(default_policy, event("case_opened", at(5))).anchor_at


def test_states_are_never_mutated(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened", sensitive=True))
    snapshot = dump_state(state)
    for kind in ("case_acknowledged", "customer_awaited", "case_resolved", "case_handed_to_dealer"):
        evolve(state, event(kind, at(2)), default_policy)
    assert dump_state(state) == snapshot


def test_late_events_are_clamped_not_rejected(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened", at(1)))
    late = fold(
        default_policy, event("case_acknowledged", at(1) - timedelta(minutes=5)), state=state
    )
    assert late.status == "acknowledged"
