"""Response bodies of the case views (the OpenAPI schema of the reporting API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

ClockStatus = Literal["running", "paused", "met", "breached"]
Outcome = Literal["applied", "refused", "recorded"]


class View(BaseModel):
    """Base of every response body."""

    model_config = ConfigDict(frozen=True)


class Flag(View):
    """A derived yes/no with why."""

    value: bool
    reasons: list[str] = []


class ClockOut(View):
    """One SLA clock as of `as_of`: business time elapsed and remaining, and its status."""

    milestone: str
    cycle: int
    status: ClockStatus
    target_seconds: float
    elapsed_seconds: float
    # Negative once past the target.
    remaining_seconds: float
    # When it breaches (or breached); None while paused, and for a clock that has ended.
    due_at: datetime | None
    ended_at: datetime | None = None


class Actor(View):
    """Who caused an event."""

    kind: str
    id: str


class TimelineOut(View):
    """One case event and what became of it."""

    event_id: UUID
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    outcome: Outcome
    reason: str | None = None
    detail: str | None = None
    # `worker` once the escalation service refused it, `projection` when the core here did.
    refused_by: str | None = None
    payload: dict[str, Any]


class DeliveryOut(View):
    """One recipient of a notice and whether it reached them."""

    recipient: str
    channel: str
    status: str
    attempts: int
    delivered_at: datetime | None
    last_error: str | None
    dead_lettered: bool


class Acknowledgement(View):
    """Who acknowledged a notice, and when."""

    by: str
    at: datetime


class EscalationOut(View):
    """A fired step: who was told and whether it was delivered."""

    escalation_id: UUID
    milestone: str
    cycle: int
    step: str
    tier: int
    reason: str
    repeat: int
    due_at: datetime
    fired_at: datetime
    late_seconds: int
    audiences: list[str]
    deliveries: list[DeliveryOut]
    acknowledged: Acknowledgement | None


class CallbackOut(View):
    """A callback promised to the customer."""

    promise_id: str
    due_at: datetime
    status: Literal["pending", "kept", "broken"]


class RevisitOut(View):
    """A revisit call's recorded outcome."""

    outcome: str
    score: int | None
    reason: str | None
    attempt: int
    recorded_at: datetime


class PlannedOut(View):
    """A step that will fire if nothing happens; `due_at` is None while clocks are paused."""

    escalation_id: UUID
    milestone: str
    cycle: int
    step: str
    tier: int
    reason: str
    audience: list[str]
    due_at: datetime | None
    repeat: int


class CaseSummary(View):
    """A case in a list."""

    case_id: UUID
    status: str
    owner: str | None
    priority: str
    category: str
    channel: str
    dealer_id: str | None
    summary: str
    sensitive: bool
    repeat: bool
    breached: bool
    opened_at: datetime
    updated_at: datetime


class CaseView(CaseSummary):
    """Everything known about one case, as of `as_of`."""

    as_of: datetime
    product: str | None
    external_ref: str | None
    cycle: int
    sensitive_detail: Flag
    repeat_detail: Flag
    clocks: list[ClockOut]
    timeline: list[TimelineOut]
    escalations: list[EscalationOut]
    callbacks: list[CallbackOut]
    revisits: list[RevisitOut]
    upcoming: list[PlannedOut]
    # False when the case's policy version is unknown here: clocks and plan are then empty.
    clocks_known: bool = True


class CaseList(View):
    """A page of cases, newest first; pass `next` as `after` for the following page."""

    items: list[CaseSummary]
    next: str | None


class EventOutcome(View):
    """What became of an event sent for a case."""

    event_id: UUID
    case_id: UUID
    type: str
    outcome: Outcome
    reason: str | None
    detail: str | None
    refused_by: str | None
    occurred_at: datetime
