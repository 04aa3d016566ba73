"""`decide` (what fires now, and when to look again), `plan` and `clocks` for the case view.

All three read the same clock functions (`casegold_sla.clock`), so the plan shows exactly
what `decide` will do, as long as no event changes the case in between.
"""

from datetime import UTC, datetime

from casegold_sla.clock import fire_due, next_reminder, odometer, offset_instant, planned
from casegold_sla.instants import from_us, span, to_us
from casegold_sla.state import CaseState, ClockView, Decision, Milestone, PlannedStep

_NEVER = datetime.max.replace(tzinfo=UTC)


def decide(state: CaseState, now: datetime) -> Decision:
    """The steps due at `now`, the next instant to look again, and the state that records them."""
    # Deciding again on `Decision.state` at the same `now` yields nothing new; when nothing
    # fired, `Decision.state` is `state` itself, so the caller can skip a write.
    return decide_us(state, to_us(now))


def decide_us(state: CaseState, now: int) -> Decision:
    """`decide` with `now` in microseconds since the epoch."""
    fired = fire_due(state, now)
    pending = state.pending or ()
    if not fired.changed and not pending:
        return Decision((), fired.next_due, state)
    after = state.copy()
    after.milestones = fired.milestones
    after.reminders = fired.reminders
    after.pending = None
    # In the order they fell due, lower tiers first on a tie.
    escalations = sorted((*pending, *fired.escalations), key=lambda e: (e.due_at, e.tier))
    return Decision(tuple(escalations), fired.next_due, after)


def plan(state: CaseState, now: datetime) -> tuple[PlannedStep, ...]:
    """The steps still to come (including any due now), by due instant; paused ones last."""
    now_us = to_us(now)
    entries = [
        PlannedStep(
            escalation_id=item.escalation_id,
            milestone=item.milestone,
            cycle=item.cycle,
            step=item.step,
            tier=item.tier,
            reason=item.reason,
            audience=item.audience,
            due_at=item.due_at,
            repeat=item.repeat,
        )
        for item in state.pending or ()
    ]
    for milestone in state.milestones:
        steps = milestone.rule.steps
        for index in range(milestone.cursor):
            upcoming = next_reminder(state, milestone, index, now_us)
            if upcoming is not None:
                entries.append(planned(state, milestone, index, *upcoming))
        for index in range(milestone.cursor, len(steps)):
            due = offset_instant(state, milestone, steps[index].offset)
            entries.append(planned(state, milestone, index, 0, due))
    return tuple(sorted(entries, key=_plan_order))


def clocks(state: CaseState, now: datetime) -> tuple[ClockView, ...]:
    """The running business-time clocks: target, elapsed, due instant and whether breached."""
    # `due_at` is None while paused, and for a clock that breached before the last pause: the
    # core keeps no pause history (decision 0012). `breached` is always known.
    now_us = to_us(now)
    reading = odometer(state, now_us)
    views = []
    for milestone in state.milestones:
        rule = milestone.rule
        if rule.wall_clock:
            continue
        breach = milestone.start + rule.target
        due = _due_us(state, milestone)
        views.append(
            ClockView(
                milestone=milestone.name,
                cycle=milestone.cycle,
                target=span(rule.target),
                due_at=None if due is None else from_us(due),
                elapsed=span(reading - milestone.start),
                paused=state.paused,
                breached=reading >= breach,
            )
        )
    return tuple(views)


def due_times(state: CaseState) -> dict[str, datetime]:
    """When each running business-time clock is due: the known `due_at`s of `clocks`, alone.

    For a caller that needs nothing else (intake's reply to a new case): no odometer reading,
    no elapsed or target spans.
    """
    due = {}
    for milestone in state.milestones:
        if not milestone.rule.wall_clock:
            instant = _due_us(state, milestone)
            if instant is not None:
                due[milestone.name] = from_us(instant)
    return due


def _due_us(state: CaseState, milestone: Milestone) -> int | None:
    rule = milestone.rule
    if milestone.start + rule.target < state.anchor_offset:
        return None  # breached before the last pause: the core keeps no pause history
    return offset_instant(state, milestone, rule.target)


def _plan_order(step: PlannedStep) -> tuple[bool, datetime, int]:
    return (step.due_at is None, step.due_at or _NEVER, step.tier)
