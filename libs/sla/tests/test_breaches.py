"""Breaches in special periods, where no ladder step sits at the breach instant."""

from __future__ import annotations

from datetime import datetime, timedelta

from casegold_sla import PolicySet, decide, to_us
from casegold_sla.breaches import next_unmarked_breach, unmarked_breaches

from .conftest import at, event, fold

SPECIAL = datetime.fromisoformat("2025-03-15T10:00:00+08:00")  # inside 3.15's period


def test_a_special_period_clock_breaches_at_its_target_though_no_step_is_there(
    default_policy: PolicySet,
) -> None:
    state = fold(default_policy, event("case_opened", SPECIAL, priority="P2"))  # 4 h → 2 h
    # Tier 1 fires at 90 min (where the warning would have been), as a warning.
    tier_1 = [e for e in decide(state, SPECIAL + timedelta(hours=3)).escalations]
    assert ("tier_1", "sla_warning") in [(e.step, e.reason) for e in tier_1]
    assert all(e.breached is None for e in tier_1 if e.due_at < SPECIAL + timedelta(hours=2))
    breach = to_us(SPECIAL + timedelta(hours=2))
    assert next_unmarked_breach(state, to_us(SPECIAL)) == breach
    first_response = [b for b in unmarked_breaches(state, breach) if b[0] == "first_response"]
    assert first_response == [("first_response", 1)]
    assert unmarked_breaches(state, breach - 1) == ()


def test_ordinary_ladders_leave_breaches_to_their_tier_1(default_policy: PolicySet) -> None:
    state = fold(default_policy, event("case_opened", priority="P2"))
    assert unmarked_breaches(state, to_us(at(100))) == ()
    assert next_unmarked_breach(state, to_us(at(0))) is None


def test_a_paused_clock_does_not_breach(default_policy: PolicySet) -> None:
    state = fold(
        default_policy,
        event("case_opened", SPECIAL, priority="P2"),
        event("customer_awaited", SPECIAL + timedelta(minutes=30)),
    )
    assert next_unmarked_breach(state, to_us(SPECIAL + timedelta(minutes=31))) is None
    assert unmarked_breaches(state, to_us(SPECIAL + timedelta(hours=5))) == ()
