"""The projection fold: rows, counts, outcomes and redeliveries, without a broker or database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from casegold_contracts import Event, dump
from casegold_contracts.builders import make_escalation_raised, make_event
from casegold_reporting.projection import Record, decode, fold
from casegold_sla import PolicySet, load_policy

POLICY = Path(__file__).resolve().parents[3] / "deploy/policy/default.yaml"
T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
CASE = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.fixture(scope="module")
def policies() -> PolicySet:
    return load_policy(POLICY)


def records(events: list[Event | bytes], topic: str = "cases", first: int = 0) -> list[Record]:
    return [
        Record(topic, 0, first + n, e if isinstance(e, bytes) else dump(e))
        for n, e in enumerate(events)
    ]


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def test_a_lifecycle_makes_one_row_its_timeline_and_counts(policies: PolicySet) -> None:
    events: list[Event | bytes] = [
        make_event("case_opened", case_id=CASE, at=T0, priority="P2"),
        make_event("case_assigned", case_id=CASE, at=hours(0.5), owner="agent-9"),
        make_event("case_acknowledged", case_id=CASE, at=hours(1)),
        make_event("case_resolved", case_id=CASE, at=hours(30)),
    ]
    batch = fold(decode(records(events)), {}, policies)
    row = batch.cases[CASE]
    assert (row.status, row.owner, row.priority, row.position) == ("resolved", "agent-9", "P2", 3)
    assert row.first_response_seconds == 3600 and row.first_response_at == hours(1)
    assert row.resolution_seconds == 30 * 3600 and row.root_cause_category == "product"
    assert [t.outcome for t in batch.timeline] == ["applied"] * 4
    # Opened then resolved in one batch: the open count moved on with it.
    assert {k: v for k, v in batch.counts.items() if v} == {("P2", "resolved"): 1}
    assert batch.first_responses == [3600] and batch.resolutions == [30 * 3600]
    assert batch.offsets == {("cases", 0): 4}
    # Resolving at 30 h ends every clock; P2's 4 h, 2 d and 7 d targets were all met.
    ended = {c.milestone: c.met for c in row.ended_clocks}
    assert ended == {"first_response": True, "solution_agreed": True, "resolution": True}


def test_refusals_redeliveries_and_poison(policies: PolicySet) -> None:
    opened = make_event("case_opened", case_id=CASE, at=T0)
    closing = make_event("case_closed", case_id=CASE, at=hours(1))
    rejection = make_event(
        "command_rejected", case_id=CASE, at=hours(1), rejected_event_id=closing.event_id,
        rejected_type="case_closed", reason="invalid_transition",
    )  # fmt: skip
    first = fold(decode(records([opened, closing, b"{oops", rejection])), {}, policies)
    assert [(t.type, t.outcome, t.refused_by) for t in first.timeline] == [
        ("case_opened", "applied", None),
        ("case_closed", "refused", "projection"),
        ("command_rejected", "recorded", None),
    ]
    assert first.undecodable == {"malformed_json": 1}
    [refusal] = first.refusals
    assert (refusal.event_id, refusal.reason) == (closing.event_id, "invalid_transition")
    row = first.cases[CASE]
    assert first.new_cases == {CASE}
    # The same records again, over the rows they made: nothing new, and `known` untouched.
    again = fold(decode(records([opened, closing, rejection])), {CASE: row}, policies)
    assert (again.timeline, again.refusals, again.skipped) == ([], [], 3)
    later = make_event("case_acknowledged", case_id=CASE, at=hours(2))
    moved = fold(decode(records([later], first=4)), {CASE: row}, policies)
    assert moved.cases[CASE].status == "acknowledged" and row.status == "open"
    # A stored row moved on is not a new one (its flags need no look-up).
    assert moved.new_cases == set()


def test_events_of_unknown_cases_and_escalations(policies: PolicySet) -> None:
    stray = make_event("case_acknowledged", case_id=CASE, at=T0)
    step = make_escalation_raised(case_id=CASE, due_at=hours(12))
    batch = fold(decode([*records([stray]), *records([step], topic="escalations")]), {}, policies)
    assert batch.cases == {}
    assert [(t.outcome, t.reason) for t in batch.timeline] == [("refused", "unknown_case")]
    [escalation] = batch.escalations
    assert (escalation.step, escalation.audience, escalation.reason) == (
        "tier_1", "team_lead", "sla_breach",
    )  # fmt: skip
    assert batch.offsets == {("cases", 0): 1, ("escalations", 0): 1}


def test_the_timeline_keeps_no_contact_details(policies: PolicySet) -> None:
    batch = fold(decode(records([make_event("case_opened", case_id=CASE, at=T0)])), {}, policies)
    [entry] = batch.timeline
    assert "customer" not in entry.payload and "customer_key" not in entry.payload
    assert "+86" not in repr(entry)
