"""The compact state of one case, as folded by `evolve`, and the values the core returns.

Instants are int microseconds since the epoch (UTC); business time is int microseconds.
Every business-time clock of a case reads one odometer: the business time elapsed since the
case opened, not counting pauses. It is kept as an anchor (`anchor_at`, `anchor_offset`):
at instant t ≥ anchor_at it reads anchor_offset + business time between anchor_at and t, or
just anchor_offset while the case awaits the customer. A milestone records the odometer
reading it started at, so one pause moves every running clock at once and costs nothing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from casegold_sla.instants import from_us
from casegold_sla.policy import CasePolicy
from casegold_sla.rules import MilestoneRule

OPEN: Final = "open"
ACKNOWLEDGED: Final = "acknowledged"
IN_PROGRESS: Final = "in_progress"
SOLUTION_AGREED: Final = "solution_agreed"
AWAITING_CUSTOMER: Final = "awaiting_customer"
RESOLVED: Final = "resolved"
CLOSED: Final = "closed"
REOPENED: Final = "reopened"
# States whose work is under way and whose clocks run.
ACTIVE: Final = frozenset({OPEN, ACKNOWLEDGED, IN_PROGRESS, SOLUTION_AGREED, REOPENED})
# States in which the case is not yet resolved (active, or paused awaiting the customer).
UNRESOLVED: Final = ACTIVE | {AWAITING_CUSTOMER}


@dataclass(frozen=True, slots=True)
class Milestone:
    """A running milestone: its frozen rule, cycle, start and the cursor of its next step."""

    rule: MilestoneRule
    cycle: int
    # The odometer reading the clock started at; for a wall-clock rule, an instant.
    start: int
    # Steps before the cursor have fired.
    cursor: int = 0

    @property
    def name(self) -> str:
        """The milestone's name (`first_response`, `promise:<id>`, …)."""
        return self.rule.name


@dataclass(frozen=True, slots=True)
class Reminder:
    """How many repeat reminders a fired step sent, and whether it was acknowledged."""

    milestone: str
    cycle: int
    step_index: int
    count: int = 0
    acknowledged: bool = False


@dataclass(frozen=True, slots=True)
class Escalation:
    """A step due now: send it as `escalation_raised` (once per audience, same id)."""

    escalation_id: UUID
    case_id: UUID
    milestone: str
    cycle: int
    step: str
    tier: int
    reason: str
    audience: tuple[str, ...]
    due_at: datetime
    repeat: int
    # Business time past the milestone's breach when due (negative for a warning).
    late: timedelta

    @property
    def breached(self) -> str | None:
        """The milestone whose breach instant this step marks (an SLA ladder's tier 1), if any."""
        if self.step != "tier_1" or self.reason != "sla_breach":
            return None
        return self.milestone.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """An upcoming step for the case view; `due_at` is None while the clock is paused."""

    escalation_id: UUID
    milestone: str
    cycle: int
    step: str
    tier: int
    reason: str
    audience: tuple[str, ...]
    due_at: datetime | None
    repeat: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """A command that makes no sense in the case's state; `reason` is a short metric label."""

    reason: str
    detail: str


@dataclass(slots=True)
class CaseState:
    """One case as the SLA core sees it. Treat it as immutable: the core returns new ones."""

    case_id: UUID
    status: str
    resume_status: str | None
    owner: str | None
    priority: str
    category: str
    dealer_id: str | None
    sensitive: bool
    repeat: bool
    policy: CasePolicy
    cycle: int
    dealer_round: int
    anchor_at: int
    anchor_offset: int
    milestones: tuple[Milestone, ...]
    reminders: tuple[Reminder, ...] | None = None
    pending: tuple[Escalation, ...] | None = None
    # Fingerprints of the last few event ids, so a redelivered event is a no-op.
    recent_events: int = 0
    # (promise id, last cycle) of every promise made: a used id promised again starts the
    # next cycle, with escalation ids of its own (decision 0032).
    promise_cycles: tuple[tuple[str, int], ...] | None = None

    @property
    def paused(self) -> bool:
        """Whether business-time clocks are paused (the case awaits the customer)."""
        return self.status == AWAITING_CUSTOMER

    def copy(self) -> "CaseState":
        """A shallow copy for the core to change (positional: the fastest way to copy)."""
        return CaseState(
            self.case_id,
            self.status,
            self.resume_status,
            self.owner,
            self.priority,
            self.category,
            self.dealer_id,
            self.sensitive,
            self.repeat,
            self.policy,
            self.cycle,
            self.dealer_round,
            self.anchor_at,
            self.anchor_offset,
            self.milestones,
            self.reminders,
            self.pending,
            self.recent_events,
            self.promise_cycles,
        )

    def milestone(self, name: str) -> Milestone | None:
        """The running milestone of that name, if any."""
        return next((m for m in self.milestones if m.rule.name == name), None)


@dataclass(frozen=True, slots=True)
class Decision:
    """What `decide` found: steps to send now, when to look again, and the state after."""

    escalations: tuple[Escalation, ...]
    next_check_us: int | None
    state: CaseState

    @property
    def next_check_at(self) -> datetime | None:
        """The next instant at which anything could fire, or None if nothing can."""
        return None if self.next_check_us is None else from_us(self.next_check_us)


@dataclass(frozen=True, slots=True)
class ClockView:
    """A running clock for the case view: target, due instant (None while paused), progress."""

    milestone: str
    cycle: int
    target: timedelta
    due_at: datetime | None
    elapsed: timedelta
    paused: bool
    breached: bool
