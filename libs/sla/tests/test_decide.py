"""decide and plan: ladders, immediate escalations, promises, dealers, reminders, pauses."""

from datetime import datetime, timedelta

import pytest

from casegold_contracts import escalation_id
from casegold_contracts.builders import DEFAULT_CASE_ID
from casegold_sla import (
    CaseState,
    Escalation,
    PolicySet,
    clocks,
    decide,
    load_policy_text,
    plan,
)

from .conftest import POLICY_DIR, at, event, fold


def fired(state: CaseState, now: datetime) -> tuple[list[tuple[str, str, int]], CaseState]:
    """(milestone, step, repeat) of what fires at `now`, and the state after."""
    decision = decide(state, now)
    return [(e.milestone, e.step, e.repeat) for e in decision.escalations], decision.state


def run(state: CaseState, *instants: datetime) -> list[Escalation]:
    """Decide at each instant in turn; every escalation sent."""
    sent: list[Escalation] = []
    for instant in instants:
        decision = decide(state, instant)
        sent += decision.escalations
        state = decision.state
    return sent


@pytest.fixture(scope="module")
def reminding() -> PolicySet:
    """The default policy with hourly reminders on tier 1 and at most two on tier 2."""
    text = (POLICY_DIR / "default.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "{step: tier_1, at: breach, audience: team_lead}",
        "{step: tier_1, at: breach, audience: team_lead, repeat_every: 1h}",
        1,
    ).replace(
        "min: 2h, audience: department_manager}",
        "min: 2h, audience: department_manager, repeat_every: 1h, max_repeats: 2}",
        1,
    )
    return load_policy_text(text, "reminding.yaml")


def test_ladder_fires_each_step_at_its_point(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened", priority="P2"))  # first response 4 h
    decision = decide(state, at(0))
    assert decision.escalations == () and decision.state is state
    assert decision.next_check_at == at(3)
    assert fired(state, at(3) - timedelta(microseconds=1))[0] == []
    sent, state = fired(state, at(3))
    assert sent == [("first_response", "warning", 0)]
    assert decide(state, at(3)).escalations == ()
    assert decide(state, at(3)).next_check_at == at(4)
    assert fired(state, at(4))[0] == [("first_response", "tier_1", 0)]


def test_escalation_carries_id_due_time_audience_and_lateness(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened", priority="P2"))
    sent = run(state, at(9))
    assert [(e.step, e.due_at, e.late, e.audience, e.reason, e.tier) for e in sent] == [
        ("warning", at(3), -timedelta(hours=1), ("owner",), "sla_warning", 0),
        ("tier_1", at(4), timedelta(0), ("team_lead",), "sla_breach", 1),
        ("tier_2", at(6), timedelta(hours=2), ("department_manager",), "sla_breach", 2),
        ("tier_3", at(8), timedelta(hours=4), ("director",), "sla_breach", 3),
    ]
    assert all(
        e.escalation_id == escalation_id(DEFAULT_CASE_ID, "first_response", 1, e.step)
        and e.case_id == DEFAULT_CASE_ID
        and e.cycle == 1
        for e in sent
    )


def test_meeting_a_milestone_cancels_its_later_steps(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened", priority="P2"))
    _, state = fired(state, at(3))
    state = fold(default_policy, event("case_acknowledged", at(3.5)), state=state)
    assert [e.milestone for e in run(state, at(4), at(6), at(9))] == []


def test_steps_due_before_the_milestone_was_met_still_fire(default_policy: PolicySet) -> None:
    # The processor had not looked at 03:00 yet when the acknowledgement of 03:30 arrived.
    state = fold(
        default_policy, event("case_opened", priority="P2"), event("case_acknowledged", at(3.5))
    )
    sent = run(state, at(3.6), at(9))
    assert [(e.milestone, e.step, e.due_at) for e in sent] == [("first_response", "warning", at(3))]


def test_pause_moves_every_business_clock_and_not_promises(default_policy: PolicySet) -> None:
    state = fold(
        default_policy,
        event("case_opened", priority="P2"),
        event("callback_promised", at(1), promise_id="p1", due_at=at(5)),
        event("customer_awaited", at(2)),
    )
    assert decide(state, at(4)).escalations == ()
    assert decide(state, at(4)).next_check_at == at(5)
    sent, state = fired(state, at(5))
    assert sent == [("promise:p1", "tier_1", 0)]
    assert decide(state, at(50)).escalations == ()
    assert decide(state, at(50)).next_check_at is None
    state = fold(default_policy, event("case_resumed", at(12)), state=state)
    # Two hours ran before the pause: the warning (3 h) is one hour after resuming.
    assert decide(state, at(12)).next_check_at == at(13)
    assert [(e.step, e.due_at) for e in run(state, at(14))] == [
        ("warning", at(13)),
        ("tier_1", at(14)),
    ]


def test_steps_due_before_a_pause_fire_even_if_decided_after(default_policy: PolicySet) -> None:
    state = fold(
        default_policy, event("case_opened", priority="P2"), event("customer_awaited", at(3.5))
    )
    assert [(e.step, e.due_at) for e in run(state, at(20))] == [("warning", at(3))]


def test_sensitive_case_tells_department_manager_and_pr_legal_at_once(
    default_policy: PolicySet,
) -> None:
    state = fold(default_policy, event("case_opened", sensitive=True))
    decision = decide(state, at(0))
    assert [
        (e.milestone, e.step, e.reason, e.audience, e.due_at) for e in decision.escalations
    ] == [("sensitive", "tier_2", "sensitive", ("department_manager", "pr_legal"), at(0))]
    assert decide(decision.state, at(0)).escalations == ()
    assert all(m.name != "sensitive" for m in decision.state.milestones)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (
            ("repeat_complainant_detected",),
            [("repeat_complainant", 1, "tier_1", "repeat_complainant")],
        ),
        (("case_resolved", "case_reopened"), [("reopened", 2, "tier_1", "reopened")]),
    ],
)
def test_immediate_escalations(
    default_policy: PolicySet, events: tuple[str, ...], expected: list[tuple[str, int, str, str]]
) -> None:
    steps = [event(kind, at(0.1 * (n + 1))) for n, kind in enumerate(events)]
    state = fold(default_policy, event("case_opened"), *steps)
    decision = decide(state, at(1))
    assert [(e.milestone, e.cycle, e.step, e.reason) for e in decision.escalations] == expected
    # A second detection does not escalate again.
    again = fold(default_policy, event("repeat_complainant_detected", at(2)), state=decision.state)
    if events == ("repeat_complainant_detected",):
        assert decide(again, at(2)).escalations == ()


def test_reopen_starts_a_new_resolution_cycle_with_its_own_ladder(
    default_policy: PolicySet,
) -> None:
    state = fold(
        default_policy,
        event("case_opened", priority="P1"),  # resolution 3 d
        event("case_acknowledged", at(0.1)),
        event("solution_agreed", at(0.2)),
        event("case_resolved", at(1)),
        event("case_reopened", at(2)),
    )
    sent = run(state, at(2), at(2, days=3))
    assert [(e.milestone, e.cycle, e.step, e.due_at) for e in sent] == [
        ("reopened", 2, "tier_1", at(2)),
        ("resolution", 2, "warning", at(2, days=2.25)),
        ("resolution", 2, "tier_1", at(2, days=3)),
    ]
    assert sent[1].escalation_id == escalation_id(DEFAULT_CASE_ID, "resolution", 2, "warning")


def test_broken_promise_escalates_once_at_the_promised_time(default_policy: PolicySet) -> None:
    state = fold(
        default_policy,
        event("case_opened"),
        event("case_acknowledged", at(0.5)),
        event("callback_promised", at(1), promise_id="p1", due_at=at(3)),
    )
    sent = run(state, at(2.9), at(3), at(10))
    assert [(e.milestone, e.step, e.reason, e.due_at) for e in sent] == [
        ("promise:p1", "tier_1", "broken_promise", at(3))
    ]


@pytest.mark.parametrize("keeper", ["promise_kept", "customer_contacted", "case_resolved"])
def test_a_kept_promise_never_escalates(default_policy: PolicySet, keeper: str) -> None:
    state = fold(
        default_policy,
        event("case_opened"),
        event("case_acknowledged", at(0.5)),
        event("callback_promised", at(1), promise_id="p1", due_at=at(3)),
        event(keeper, at(2.5), **({"promise_id": "p1"} if keeper == "promise_kept" else {})),
    )
    assert [e.milestone for e in run(state, at(3), at(10))] == []


def test_a_promise_already_due_is_broken_at_once(default_policy: PolicySet) -> None:
    state = fold(
        default_policy,
        event("case_opened"),
        event("callback_promised", at(2), promise_id="p0", due_at=at(1)),
    )
    assert fired(state, at(2))[0] == [("promise:p0", "tier_1", 0)]


def test_dealer_clocks_escalate_to_dealer_management(default_policy: PolicySet) -> None:
    state = fold(
        default_policy,
        event("case_opened", priority="P4"),
        event("case_acknowledged", at(0.5)),
        event("customer_contacted", at(0.6)),
        event("case_handed_to_dealer", at(1), dealer_id="D7"),
    )
    sent = [e for e in run(state, at(13)) if e.milestone.startswith("dealer")]
    assert [(e.milestone, e.step, e.due_at, e.audience) for e in sent] == [
        ("dealer_first_response", "warning", at(10), ("dealer_management",)),
        ("dealer_first_response", "tier_1", at(13), ("dealer_management",)),
    ]
    responded = fold(default_policy, event("dealer_responded", at(5)), state=state)
    assert [e.milestone for e in run(responded, at(14)) if e.milestone.startswith("dealer")] == []


def test_revisit_clock_runs_from_resolution(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened"), event("case_resolved", at(1)))
    assert [(e.milestone, e.step, e.due_at) for e in run(state, at(73))] == [
        ("revisit", "tier_1", at(73))
    ]
    recorded = fold(default_policy, event("revisit_outcome_recorded", at(50)), state=state)
    assert run(recorded, at(100)) == []


def test_special_period_starts_the_ladder_at_tier_1(default_policy: PolicySet) -> None:
    opened = datetime.fromisoformat("2025-03-15T10:00:00+08:00")
    state = fold(default_policy, event("case_opened", opened, priority="P2"))  # 4 h → 2 h
    sent = run(state, opened + timedelta(hours=5))
    first = [(e.step, e.due_at - opened, e.reason) for e in sent if e.milestone == "first_response"]
    assert first == [
        ("tier_1", timedelta(minutes=90), "sla_warning"),
        ("tier_2", timedelta(hours=4), "sla_breach"),
        ("tier_3", timedelta(hours=4), "sla_breach"),
    ]


def test_reminders_repeat_until_acknowledged_and_only_for_that_step(reminding: PolicySet) -> None:
    state = fold(reminding, event("case_opened", priority="P2"))  # breach at 4 h
    sent, state = fired(state, at(5))
    assert sent == [
        ("first_response", "warning", 0),
        ("first_response", "tier_1", 0),
        ("first_response", "tier_1", 1),
    ]
    tier_1 = escalation_id(DEFAULT_CASE_ID, "first_response", 1, "tier_1")
    state = fold(
        reminding, event("escalation_acknowledged", at(5.5), escalation_id=tier_1), state=state
    )
    # Tier 2 (6 h) still fires, and its reminders stop after two.
    sent, state = fired(state, at(6))
    assert sent == [("first_response", "tier_2", 0)]
    assert [(e.step, e.repeat) for e in run(state, at(7), at(8), at(9), at(10), at(11))] == [
        ("tier_2", 1),
        ("tier_2", 2),
        ("tier_3", 0),
    ]


def test_a_late_decision_sends_only_the_latest_reminder(reminding: PolicySet) -> None:
    state = fold(reminding, event("case_opened", priority="P2"))
    sent, state = fired(state, at(4))
    sent, state = fired(state, at(7.5))
    assert ("first_response", "tier_1", 3) in sent
    assert ("first_response", "tier_1", 1) not in sent
    assert decide(state, at(7.5)).next_check_at == at(8)


def test_plan_lists_what_decide_will_send(default_policy: PolicySet) -> None:
    state = fold(
        default_policy,
        event("case_opened", priority="P1"),
        event("callback_promised", at(0.2), promise_id="p1", due_at=at(0.5)),
    )
    upcoming = plan(state, at(0))
    assert [(p.milestone, p.step, p.due_at) for p in upcoming][:4] == [
        ("promise:p1", "tier_1", at(0.5)),
        ("first_response", "warning", at(0.75)),
        ("first_response", "tier_1", at(1)),
        # Tier 2 is breach + 2 h (the minimum); tier 3 (breach + 100 %) waits for it.
        ("first_response", "tier_2", at(3)),
    ]
    assert [(p.step, p.due_at) for p in upcoming if p.milestone == "first_response"][-1] == (
        "tier_3",
        at(3),
    )
    emitted: dict[object, datetime] = {}
    for planned in upcoming:
        assert planned.due_at is not None
        decision = decide(state, planned.due_at)
        emitted |= {e.escalation_id: e.due_at for e in decision.escalations}
        assert emitted[planned.escalation_id] == planned.due_at
        state = decision.state


def test_plan_while_paused_has_no_due_times(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened"), event("customer_awaited", at(1)))
    assert {p.due_at for p in plan(state, at(2))} == {None}


def test_clocks_view(default_policy: PolicySet) -> None:
    state = fold(
        default_policy, event("case_opened", priority="P2"), event("customer_awaited", at(1))
    )
    views = {view.milestone: view for view in clocks(state, at(5))}
    assert views["first_response"].elapsed == timedelta(hours=1)
    assert views["first_response"].paused and views["first_response"].due_at is None
    state = fold(default_policy, event("case_resumed", at(3)), state=state)
    views = {view.milestone: view for view in clocks(state, at(5))}
    assert views["first_response"].due_at == at(6)
    assert views["first_response"].elapsed == timedelta(hours=3)
    assert not views["first_response"].breached
    assert {view.milestone: view.breached for view in clocks(state, at(7))}["first_response"]


BUSINESS_HOURS = """
    calendar: shanghai_office
    ladder: standard
"""


def test_business_hours_policy_counts_office_time_only(default_policy: PolicySet) -> None:
    text = (POLICY_DIR / "default.yaml").read_text(encoding="utf-8")
    text = text.replace("    calendar: 24x7\n    ladder: standard\n", BUSINESS_HOURS, 1)
    policies = load_policy_text(text, "office.yaml")
    # Friday 2025-06-13 17:30 in Shanghai; P1 first response is 1 business hour.
    opened = datetime.fromisoformat("2025-06-13T17:30:00+08:00")
    state = fold(policies, event("case_opened", opened, priority="P1"))
    sent = run(state, opened + timedelta(days=4))
    due = {e.step: e.due_at for e in sent if e.milestone == "first_response"}
    assert due["warning"] == datetime.fromisoformat("2025-06-14T09:15:00+08:00")
    assert due["tier_1"] == datetime.fromisoformat("2025-06-14T09:30:00+08:00")
    # Breach + 2 business hours (25 % is below the minimum) is Saturday 11:30.
    assert due["tier_2"] == datetime.fromisoformat("2025-06-14T11:30:00+08:00")
    # Breach + 100 % (Saturday 10:30) waits for tier 2.
    assert due["tier_3"] == datetime.fromisoformat("2025-06-14T11:30:00+08:00")


def test_acknowledging_a_step_without_reminders_changes_nothing(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened", priority="P2"))
    state = decide(state, at(5)).state
    tier_1 = escalation_id(DEFAULT_CASE_ID, "first_response", 1, "tier_1")
    acknowledged = fold(
        default_policy, event("escalation_acknowledged", at(5), escalation_id=tier_1), state=state
    )
    assert acknowledged.reminders is None
    assert [e.step for e in run(acknowledged, at(9))] == ["tier_2", "tier_3"]


def test_clock_breached_before_a_pause_has_no_known_due_time(default_policy: PolicySet) -> None:
    state = fold(
        default_policy,
        event("case_opened", priority="P2"),
        event("customer_awaited", at(5)),
        event("case_resumed", at(6)),
    )
    views = {view.milestone: view for view in clocks(state, at(7))}
    assert views["first_response"].breached and views["first_response"].due_at is None
    assert views["solution_agreed"].due_at == at(49)
