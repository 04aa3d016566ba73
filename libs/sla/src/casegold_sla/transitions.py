"""Operations `evolve` applies to a draft state: start, end and pause milestones.

Each takes a draft (a copy the caller owns) and changes it in place.
"""

from collections.abc import Callable

from casegold_sla.clock import fire_due, make_milestone, odometer, shared_milestones
from casegold_sla.state import AWAITING_CUSTOMER, CaseState, Milestone


def start_milestone(
    case: CaseState, kind: str, qualifier: str, cycle: int, at: int, origin: int | None = None
) -> None:
    """Start a milestone; wall-clock rules count from `origin` (default `at`)."""
    rule = case.policy.rule(kind, qualifier)
    if rule is None or any(m.name == rule.name and m.cycle == cycle for m in case.milestones):
        return
    start = (at if origin is None else origin) if rule.wall_clock else odometer(case, at)
    milestone = make_milestone(case.policy, rule, cycle, start)
    case.milestones = shared_milestones(case.policy, (*case.milestones, milestone))


def end_milestones(case: CaseState, at: int, ending: Callable[[Milestone], bool]) -> None:
    """Meet or cancel milestones at `at`: steps already due by then still fire, later ones never."""
    if not any(ending(m) for m in case.milestones):
        return
    _settle(case, at, ending)
    ended = {(m.name, m.cycle) for m in case.milestones if ending(m)}
    kept = tuple(m for m in case.milestones if not ending(m))
    case.milestones = shared_milestones(case.policy, kept)
    reminders = tuple(r for r in case.reminders or () if (r.milestone, r.cycle) not in ended)
    case.reminders = reminders or None


def named(*names: str) -> Callable[[Milestone], bool]:
    """A selector of milestones by name."""
    wanted = frozenset(names)
    return lambda milestone: milestone.name in wanted


def is_promise(milestone: Milestone) -> bool:
    """Whether the milestone is a promise made to the customer."""
    return milestone.rule.kind == "promise"


def set_status(case: CaseState, status: str, at: int) -> None:
    """Change the status, pausing or resuming the business-time clocks as needed."""
    if status == AWAITING_CUSTOMER and not case.paused:
        # What was due before the pause fires; the odometer then stands still.
        _settle(case, at, lambda milestone: not milestone.rule.wall_clock)
        case.anchor_offset = odometer(case, at)
        case.anchor_at = at
        case.resume_status = case.status
    elif status != AWAITING_CUSTOMER and case.paused:
        # The odometer reads the same; it runs again from `at`.
        case.anchor_at = at
        case.resume_status = None
    case.status = status


def _settle(case: CaseState, at: int, selected: Callable[[Milestone], bool]) -> None:
    fired = fire_due(case, at, selected)
    if fired.escalations:
        case.pending = (*(case.pending or ()), *fired.escalations)
    case.milestones = shared_milestones(case.policy, fired.milestones)
    case.reminders = fired.reminders
