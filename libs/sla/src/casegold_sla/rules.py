"""Resolved rules a case runs on: the steps of one milestone with their offsets in microseconds."""

from dataclasses import dataclass, field
from typing import Final

# Step names and tiers of the event catalogue (warning is tier 0).
STEP_TIERS: Final[dict[str, int]] = {"warning": 0, "tier_1": 1, "tier_2": 2, "tier_3": 3}


@dataclass(frozen=True, slots=True, eq=False)
class StepRule:
    """One step of a resolved ladder: when it fires (offset from the start) and to whom."""

    step: str
    tier: int
    offset: int
    audience: tuple[str, ...]
    reason: str
    repeat_every: int | None = None
    max_repeats: int | None = None


@dataclass(frozen=True, slots=True, eq=False)
class MilestoneRule:
    """The frozen rule of one milestone: its target and its ladder resolved against it."""

    name: str
    # Rebuild the rule from a policy snapshot, e.g. (`first_response`, `P2`), (`promise`, id).
    kind: str
    qualifier: str
    target: int
    steps: tuple[StepRule, ...]
    # Promises and immediate escalations count real time from an instant, not business time.
    wall_clock: bool = False
    # Immediate escalations have nothing to be met: they leave the case once fired.
    ephemeral: bool = False

    # Whether any step sends repeat reminders (derived, so decide need not look).
    repeats: bool = field(init=False)
    # A business-time clock whose ladder has no step at the breach (a special period's ladder
    # starts at tier 1, which fires at 75 %): its breach is told on its own (breaches.py).
    breach_unmarked: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "repeats", any(step.repeat_every for step in self.steps))
        marked = any(s.step == "tier_1" and s.reason == "sla_breach" for s in self.steps)
        unmarked = not (self.wall_clock or self.ephemeral or marked)
        object.__setattr__(self, "breach_unmarked", unmarked)
