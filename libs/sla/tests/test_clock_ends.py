"""`ended_clocks`: the milestones an event stopped, with the business time each took."""

from datetime import timedelta

from casegold_sla import PolicySet
from casegold_sla.clock_ends import ended_clocks

from .conftest import at, event, fold


def test_acknowledging_ends_first_response_in_time(default_policy: PolicySet) -> None:
    opened = fold(default_policy, event("case_opened"))
    acknowledged = fold(default_policy, event("case_acknowledged", at(2)), state=opened)
    [clock] = ended_clocks(opened, acknowledged, at(2))
    assert (clock.milestone, clock.cycle, clock.met) == ("first_response", 1, True)
    assert clock.elapsed == timedelta(hours=2)
    assert clock.target == timedelta(hours=12)  # P3 on the 24x7 calendar
    assert clock.ended_at == at(2)


def test_a_late_response_is_not_met_and_pauses_do_not_count(default_policy: PolicySet) -> None:
    opened = fold(default_policy, event("case_opened"))
    paused = fold(
        default_policy, event("customer_awaited", at(1), payload={"reason": "away"}), state=opened
    )
    resumed = fold(default_policy, event("case_resumed", at(6)), state=paused)
    contacted = fold(default_policy, event("customer_contacted", at(20)), state=resumed)
    [clock] = ended_clocks(resumed, contacted, at(20))
    assert clock.elapsed == timedelta(hours=15)  # 20 h less the 5 h pause
    assert clock.met is False


def test_resolving_ends_every_clock_and_the_revisit_starts(default_policy: PolicySet) -> None:
    opened = fold(default_policy, event("case_opened"))
    resolved = fold(default_policy, event("case_resolved", at(30)), state=opened)
    ended = {clock.milestone: clock for clock in ended_clocks(opened, resolved, at(30))}
    assert set(ended) == {"first_response", "solution_agreed", "resolution"}
    assert ended["resolution"].met and not ended["first_response"].met
    assert ended_clocks(resolved, resolved, at(31)) == ()
