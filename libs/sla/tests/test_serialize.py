"""Case state survives a round trip through the changelog format, frozen policy included."""

import json

import pytest

from casegold_sla import (
    PolicyRegistry,
    PolicySet,
    StateFormatError,
    decide,
    dump_state,
    load_policy_text,
    load_state,
    plan,
)

from .conftest import POLICY_DIR, at, event, fold


def test_round_trip_keeps_clocks_promises_pending_and_reminders(default_policy: PolicySet) -> None:
    state = fold(
        default_policy,
        event("case_opened", priority="P2", sensitive=True),
        event("case_assigned", at(0.1), owner="agent-7"),
        event("callback_promised", at(0.2), promise_id="p1", due_at=at(5)),
        event("case_handed_to_dealer", at(0.3), dealer_id="D1"),
        event("customer_awaited", at(3.5)),  # the 3 h warning is settled into `pending`
    )
    assert state.pending
    document = json.loads(json.dumps(dump_state(state)))
    restored = load_state(document, PolicyRegistry(default_policy))
    assert dump_state(restored) == dump_state(state)
    assert restored.policy is state.policy
    assert plan(restored, at(4)) == plan(state, at(4))
    assert decide(restored, at(6)).escalations == decide(state, at(6)).escalations


def test_restored_case_keeps_its_old_policy_version(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened", priority="P1"))
    text = (POLICY_DIR / "default.yaml").read_text(encoding="utf-8")
    edited = load_policy_text(text.replace("{P1: 1h, P2: 4h", "{P1: 10m, P2: 4h"), "edited")
    registry = PolicyRegistry(edited)
    with pytest.raises(StateFormatError, match="not in the registry"):
        load_state(dump_state(state), registry)
    registry.add(default_policy)
    restored = load_state(dump_state(state), registry)
    assert restored.milestones[0].rule.target == 3_600_000_000
    assert registry.current is edited


def test_milestones_opened_together_are_shared_between_cases(default_policy: PolicySet) -> None:
    first = fold(default_policy, event("case_opened", priority="P3"))
    second = fold(default_policy, event("case_opened", at(1), priority="P3"))
    assert first.milestones is second.milestones
    restored = load_state(dump_state(first), PolicyRegistry(default_policy))
    assert restored.milestones is first.milestones


def test_unknown_format_is_refused(default_policy: PolicySet) -> None:
    document = dump_state(fold(default_policy, event("case_opened")))
    with pytest.raises(StateFormatError, match="unknown case state format"):
        load_state({**document, "format": 99}, PolicyRegistry(default_policy))
