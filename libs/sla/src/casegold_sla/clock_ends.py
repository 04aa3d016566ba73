"""Clocks an event stopped: which milestones it ended, with their business time at the end.

The case view shows met clocks beside running ones, and reports need how long each milestone
took; `evolve` drops an ended milestone from the state, so this compares the states around it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from casegold_sla.clock import odometer
from casegold_sla.instants import from_us, span, to_us
from casegold_sla.state import CaseState


@dataclass(frozen=True, slots=True)
class EndedClock:
    """A milestone that stopped running: its target, the time it took, and whether in time."""

    milestone: str
    cycle: int
    target: timedelta
    # Business time from the start to the end (real time for a promise).
    elapsed: timedelta
    ended_at: datetime
    met: bool


def ended_clocks(
    before: CaseState, after: CaseState, occurred_at: datetime
) -> tuple[EndedClock, ...]:
    """The milestones running in `before` that `after` (one event later) no longer has."""
    remaining = {(m.name, m.cycle) for m in after.milestones}
    # The same instant `evolve` applied the event at: the odometer never runs backwards.
    at = max(to_us(occurred_at), before.anchor_at)
    reading = odometer(before, at)
    ended = []
    for milestone in before.milestones:
        rule = milestone.rule
        if (milestone.name, milestone.cycle) in remaining or rule.ephemeral:
            continue
        # A promise's clock is the wall clock and its start is the promised instant itself.
        elapsed = at - milestone.start if rule.wall_clock else reading - milestone.start
        ended.append(
            EndedClock(
                milestone=milestone.name,
                cycle=milestone.cycle,
                target=span(rule.target),
                elapsed=span(elapsed),
                ended_at=from_us(at),
                met=elapsed <= rule.target,
            )
        )
    return tuple(ended)
