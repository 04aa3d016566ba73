"""The case's clock: odometer readings, due instants of steps and reminders, and firing them.

`decide`, `plan` and `evolve` (when a pause or a met milestone settles what was already due)
all go through these functions, so the rules exist once.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from casegold_contracts import escalation_id
from casegold_sla.instants import from_us, span
from casegold_sla.policy import CasePolicy
from casegold_sla.rules import MilestoneRule
from casegold_sla.state import (
    AWAITING_CUSTOMER,
    CaseState,
    Escalation,
    Milestone,
    PlannedStep,
    Reminder,
)

# A processor that was down for long sends the latest reminder, not every missed one.
_MAX_CATCH_UP = 10_000


def odometer(state: CaseState, at: int) -> int:
    """The case's business time at instant `at` (frozen while the case awaits the customer)."""
    if state.paused or at <= state.anchor_at:
        return state.anchor_offset
    return state.anchor_offset + state.policy.calendar.between_us(state.anchor_at, at)


def offset_instant(state: CaseState, milestone: Milestone, offset: int) -> int | None:
    """The instant at which the milestone's clock reaches `offset`; None while paused."""
    if milestone.rule.wall_clock:
        return milestone.start + offset
    if state.status == AWAITING_CUSTOMER:
        return None
    # Unfired steps always lie at or after the anchor: a pause settles everything due before.
    ahead = max(0, milestone.start + offset - state.anchor_offset)
    return state.policy.policy.calendar.add_us(state.anchor_at, ahead)


def make_milestone(
    policy: CasePolicy, rule: MilestoneRule, cycle: int, start: int, cursor: int = 0
) -> Milestone:
    """A milestone record; those started when the case opened are shared by every case."""
    if start != 0 or rule.wall_clock:
        return Milestone(rule, cycle, start, cursor)
    key = ("milestone", rule, cycle, cursor)
    cached = policy.milestone_cache.get(key)
    if cached is None:
        cached = policy.milestone_cache[key] = Milestone(rule, cycle, start, cursor)
    assert isinstance(cached, Milestone)
    return cached


def shared_milestones(
    policy: CasePolicy, milestones: tuple[Milestone, ...]
) -> tuple[Milestone, ...]:
    """Return an equal tuple shared between cases when all its milestones are shared."""
    if any(m.start != 0 or m.rule.wall_clock for m in milestones):
        return milestones
    key = ("milestones", *milestones)
    cached = policy.milestone_cache.setdefault(key, milestones)
    assert isinstance(cached, tuple)
    return cached


def find_reminder(state: CaseState, milestone: Milestone, index: int) -> Reminder:
    """The reminder record of a fired step (a fresh one if none was sent yet)."""
    for reminder in state.reminders or ():
        if (reminder.milestone, reminder.cycle, reminder.step_index) == (
            milestone.name,
            milestone.cycle,
            index,
        ):
            return reminder
    return Reminder(milestone.name, milestone.cycle, index)


def next_reminder(
    state: CaseState, milestone: Milestone, index: int, now: int
) -> tuple[int, int] | None:
    """The (repeat, due) of a fired step's next reminder as of `now`; None if none will come."""
    # When several are overdue only the latest is sent: the missed ones are old news.
    step = milestone.rule.steps[index]
    reminder = find_reminder(state, milestone, index)
    if step.repeat_every is None or reminder.acknowledged:
        return None
    limit = step.max_repeats if step.max_repeats is not None else reminder.count + _MAX_CATCH_UP
    repeat = reminder.count + 1
    if repeat > limit:
        return None
    due = offset_instant(state, milestone, step.offset + repeat * step.repeat_every)
    if due is None:
        return None
    while due <= now and repeat < limit:
        later = offset_instant(state, milestone, step.offset + (repeat + 1) * step.repeat_every)
        if later is None or later > now:
            break
        repeat, due = repeat + 1, later
    return repeat, due


@dataclass(slots=True)
class Fired:
    """The outcome of firing what is due: escalations, the milestones and reminders after."""

    escalations: list[Escalation]
    milestones: tuple[Milestone, ...]
    reminders: tuple[Reminder, ...] | None
    next_due: int | None
    changed: bool


def fire_due(
    state: CaseState, now: int, selected: Callable[[Milestone], bool] | None = None
) -> Fired:
    """Fire every step and reminder due at or before `now` (of the selected milestones)."""
    escalations: list[Escalation] = []
    milestones: list[Milestone] = []
    reminders = list(state.reminders or ())
    next_due: int | None = None
    changed = False
    for milestone in state.milestones:
        if selected is not None and not selected(milestone):
            milestones.append(milestone)
            continue
        rule, cursor = milestone.rule, milestone.cursor
        steps = rule.steps
        while cursor < len(steps):
            due = offset_instant(state, milestone, steps[cursor].offset)
            if due is None or due > now:
                if due is not None and (next_due is None or due < next_due):
                    next_due = due
                break
            escalations.append(escalation(state, milestone, cursor, 0, due))
            cursor += 1
        if cursor != milestone.cursor:
            changed = True
            milestone = make_milestone(state.policy, rule, milestone.cycle, milestone.start, cursor)
        if rule.repeats:
            next_due = _fire_reminders(state, milestone, now, escalations, reminders, next_due)
        if cursor == len(steps) and rule.ephemeral:
            changed = True
            continue
        milestones.append(milestone)
    if not changed and not escalations:
        # The common case: nothing due; keep the shared tuples as they are.
        return Fired(escalations, state.milestones, state.reminders, next_due, False)
    reminders_after = tuple(reminders) or None
    changed = changed or reminders_after != state.reminders
    return Fired(escalations, tuple(milestones), reminders_after, next_due, changed)


def _fire_reminders(
    state: CaseState,
    milestone: Milestone,
    now: int,
    escalations: list[Escalation],
    reminders: list[Reminder],
    next_due: int | None,
) -> int | None:
    for index in range(milestone.cursor):
        upcoming = next_reminder(state, milestone, index, now)
        if upcoming is None:
            continue
        repeat, due = upcoming
        if due > now:
            next_due = _earliest(next_due, due)
            continue
        escalations.append(escalation(state, milestone, index, repeat, due))
        record = find_reminder(state, milestone, index)
        if record in reminders:
            reminders.remove(record)
        reminders.append(replace(record, count=repeat))
        after = replace(state, reminders=tuple(reminders))
        following = next_reminder(after, milestone, index, now)
        next_due = _earliest(next_due, following[1] if following else None)
    return next_due


def escalation(
    state: CaseState, milestone: Milestone, index: int, repeat: int, due: int
) -> Escalation:
    """The escalation of a step (or its `repeat`-th reminder) due at `due`."""
    rule = milestone.rule
    step = rule.steps[index]
    offset = step.offset + repeat * (step.repeat_every or 0)
    return Escalation(
        escalation_id=escalation_id(state.case_id, rule.name, milestone.cycle, step.step),
        case_id=state.case_id,
        milestone=rule.name,
        cycle=milestone.cycle,
        step=step.step,
        tier=step.tier,
        reason=step.reason,
        audience=step.audience,
        due_at=from_us(due),
        repeat=repeat,
        late=span(offset - rule.target),
    )


def planned(
    state: CaseState, milestone: Milestone, index: int, repeat: int, due: int | None
) -> PlannedStep:
    """The plan entry of a step (or reminder); `due` is None while the clock is paused."""
    step = milestone.rule.steps[index]
    return PlannedStep(
        escalation_id=escalation_id(state.case_id, milestone.name, milestone.cycle, step.step),
        milestone=milestone.name,
        cycle=milestone.cycle,
        step=step.step,
        tier=step.tier,
        reason=step.reason,
        audience=step.audience,
        due_at=None if due is None else from_us(due),
        repeat=repeat,
    )


def _earliest(current: int | None, candidate: int | None) -> int | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate < current else current
