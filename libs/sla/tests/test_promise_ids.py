"""A promise id used again: refused while its promise is open, a new cycle once it ended."""

import pytest

from casegold_sla import (
    PolicyRegistry,
    PolicySet,
    Rejection,
    decide,
    dump_state,
    evolve,
    load_state,
)

from .conftest import at, event, fold


def test_promising_again_under_an_open_promise_id_is_refused_with_a_reason(
    default_policy: PolicySet,
) -> None:
    state = fold(
        default_policy,
        event("case_opened"),
        event("callback_promised", at(1), promise_id="p1", due_at=at(3)),
    )
    again = event("callback_promised", at(2), promise_id="p1", due_at=at(5))
    result = evolve(state, again, default_policy)
    assert isinstance(result, Rejection) and result.reason == "promise_open"
    assert "p1" in result.detail


def test_a_broken_promise_s_id_promised_again_breaks_again_under_a_new_escalation_id(
    default_policy: PolicySet,
) -> None:
    state = fold(
        default_policy,
        event("case_opened"),
        event("case_acknowledged", at(0.5)),
        event("callback_promised", at(1), promise_id="p1", due_at=at(3)),
    )
    first = decide(state, at(3))
    state = fold(
        default_policy,
        event("callback_promised", at(4), promise_id="p1", due_at=at(6)),
        state=first.state,
    )
    second = decide(state, at(6))
    assert [(e.milestone, e.cycle) for e in first.escalations] == [("promise:p1", 1)]
    assert [(e.milestone, e.cycle) for e in second.escalations] == [("promise:p1", 2)]
    assert first.escalations[0].escalation_id != second.escalations[0].escalation_id


def test_a_kept_promise_s_id_starts_a_new_cycle_that_survives_a_round_trip(
    default_policy: PolicySet,
) -> None:
    state = fold(
        default_policy,
        event("case_opened"),
        event("case_acknowledged", at(0.5)),
        event("callback_promised", at(1), promise_id="p1", due_at=at(3)),
        event("promise_kept", at(2), promise_id="p1"),
        event("callback_promised", at(4), promise_id="p1", due_at=at(6)),
    )
    assert dump_state(state)["promise_cycles"] == [["p1", 2]]
    assert [(e.milestone, e.cycle) for e in decide(state, at(6)).escalations] == [("promise:p1", 2)]


def test_states_stored_before_promise_cycles_load_with_every_promise_in_cycle_1(
    default_policy: PolicySet,
) -> None:
    state = fold(
        default_policy,
        event("case_opened"),
        event("callback_promised", at(1), promise_id="p1", due_at=at(3)),
    )
    document = dump_state(state)
    del document["promise_cycles"]
    loaded = load_state(document, PolicyRegistry(default_policy))
    assert loaded.promise_cycles is None
    assert [m.cycle for m in loaded.milestones if m.name == "promise:p1"] == [1]


@pytest.mark.parametrize("promise_id", ["p\n1", "p\x001", "p\r1", "\x1b[31m", "p\u20281"])
def test_a_promise_id_with_control_characters_is_refused_by_the_core(
    default_policy: PolicySet, promise_id: str
) -> None:
    state = fold(default_policy, event("case_opened"))
    promised = event("callback_promised", at(1), promise_id=promise_id, due_at=at(3))
    result = evolve(state, promised, default_policy)
    assert isinstance(result, Rejection) and result.reason == "invalid_promise_id"
