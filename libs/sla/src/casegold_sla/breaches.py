"""Breaches no ladder step marks: in a special period the ladder starts at tier 1, which then
fires where the warning would have (75 %), so no step sits at the breach instant itself.

A breach is the clock reaching its target, whatever the ladder: `casegold_sla_breaches_total`
counts a milestone of an ordinary ladder when its tier 1 fires at the breach (see
`Escalation.breached`), and one of these milestones when its clock reaches the target.
"""

from casegold_sla.clock import odometer, offset_instant
from casegold_sla.state import CaseState


def unmarked_breaches(state: CaseState, now_us: int) -> tuple[tuple[str, int], ...]:
    """(milestone, cycle) of each running unmarked clock that has reached its target by now."""
    unmarked = [m for m in state.milestones if m.rule.breach_unmarked]
    if not unmarked:
        return ()
    reading = odometer(state, now_us)
    return tuple((m.name, m.cycle) for m in unmarked if reading >= m.start + m.rule.target)


def next_unmarked_breach(state: CaseState, now_us: int) -> int | None:
    """The earliest instant after now at which a running unmarked clock reaches its target
    (None if there is none, or while the case is paused)."""
    unmarked = [m for m in state.milestones if m.rule.breach_unmarked]
    if not unmarked:
        return None
    reading = odometer(state, now_us)
    instants = [
        offset_instant(state, m, m.rule.target)
        for m in unmarked
        if reading < m.start + m.rule.target
    ]
    known = [i for i in instants if i is not None and i > now_us]
    return min(known, default=None)
