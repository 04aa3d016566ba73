"""What a milestone's name says: the promise it watches, the breach its tier 1 marks."""

from datetime import timedelta
from uuid import uuid4

import pytest

from casegold_contracts.builders import DEFAULT_TIME
from casegold_sla import Escalation, promise_milestone, promise_of


def escalation(milestone: str, step: str, reason: str) -> Escalation:
    return Escalation(
        escalation_id=uuid4(),
        case_id=uuid4(),
        milestone=milestone,
        cycle=1,
        step=step,
        tier={"warning": 0, "tier_1": 1, "tier_2": 2}[step],
        reason=reason,
        audience=("owner",),
        due_at=DEFAULT_TIME,
        repeat=0,
        late=timedelta(0),
    )


def test_a_promise_milestone_names_its_promise() -> None:
    assert promise_milestone("p-1") == "promise:p-1"
    assert promise_of(promise_milestone("p-1")) == "p-1"
    assert promise_of("promise:a:b") == "a:b"
    assert promise_of("first_response") is None
    assert promise_of("promise") is None


@pytest.mark.parametrize(
    ("milestone", "step", "reason", "breached"),
    [
        ("first_response", "tier_1", "sla_breach", "first_response"),
        ("resolution", "tier_2", "sla_breach", None),
        ("first_response", "warning", "sla_warning", None),
        (promise_milestone("p-1"), "tier_1", "broken_promise", None),
        ("sensitive", "tier_2", "sensitive", None),
    ],
)
def test_only_an_sla_ladder_s_tier_1_marks_a_breach(
    milestone: str, step: str, reason: str, breached: str | None
) -> None:
    assert escalation(milestone, step, reason).breached == breached
