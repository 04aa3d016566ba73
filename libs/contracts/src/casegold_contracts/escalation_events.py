"""Payloads and events of the `complaints.escalations` topic."""

from typing import Literal
from uuid import UUID

from pydantic import Field, NonNegativeInt, model_validator

from .envelope import ContractModel, Event, Payload
from .fields import Category, ShortText, Summary, UtcDatetime
from .vocabulary import (
    STEP_TIERS,
    ActorKind,
    Audience,
    CaseStatus,
    EscalationReason,
    Priority,
    PromiseStatus,
    Step,
)


class TimelineEntry(ContractModel):
    """One recent case event, as shown in a notice."""

    event_id: UUID
    type: ShortText
    occurred_at: UtcDatetime
    actor_kind: ActorKind
    summary: Summary | None = None


class PromiseSnapshot(ContractModel):
    """A promise made to the customer and whether it was kept."""

    promise_id: ShortText
    due_at: UtcDatetime
    status: PromiseStatus


class PriorEscalation(ContractModel):
    """An earlier escalation of the same case."""

    escalation_id: UUID
    milestone: ShortText
    step: Step
    fired_at: UtcDatetime
    acknowledged: bool = False


class CaseSnapshot(ContractModel):
    """The case's current state when the step fired, so a notice needs no look-up."""

    status: CaseStatus
    owner: ShortText | None = None
    priority: Priority
    category: Category
    dealer_id: ShortText | None = None
    sensitive: bool = False
    # Negative for a warning: the breach is still ahead.
    late_seconds: int
    summary: Summary | None = None
    recent_events: tuple[TimelineEntry, ...] = Field(default=(), max_length=50)
    promises: tuple[PromiseSnapshot, ...] = Field(default=(), max_length=100)
    prior_escalations: tuple[PriorEscalation, ...] = Field(default=(), max_length=100)


class EscalationRaisedPayload(Payload):
    """One step of an escalation ladder that fired."""

    escalation_id: UUID
    milestone: ShortText
    cycle: NonNegativeInt
    step: Step
    tier: int = Field(ge=0, le=3)
    reason: EscalationReason
    due_at: UtcDatetime
    fired_at: UtcDatetime
    repeat: NonNegativeInt = 0
    audience: Audience
    case: CaseSnapshot

    @model_validator(mode="after")
    def _tier_matches_step(self) -> "EscalationRaisedPayload":
        if STEP_TIERS[self.step] != self.tier:
            raise ValueError(f"step {self.step} is tier {STEP_TIERS[self.step]}, not {self.tier}")
        return self


class EscalationRaised(Event):
    """An escalation step fired for a case."""

    type: Literal["escalation_raised"] = "escalation_raised"
    payload: EscalationRaisedPayload
