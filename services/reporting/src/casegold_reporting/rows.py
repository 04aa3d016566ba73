"""The rows the projection writes: one per case, per timeline entry, per escalation notice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from casegold_reporting.rollups import Rollups
from casegold_sla import CaseState
from casegold_sla.clock_ends import EndedClock


@dataclass(slots=True)
class CaseRow:
    """A case as `reporting_cases` holds it (the projector's working copy)."""

    case_id: UUID
    partition: int
    position: int
    opened_at: datetime
    updated_at: datetime
    status: str
    owner: str | None
    priority: str
    category: str
    channel: str
    dealer_id: str | None
    product: str | None
    external_ref: str | None
    summary: str
    sensitive: bool
    sensitive_reasons: tuple[str, ...]
    repeat: bool
    prior_case_ids: tuple[UUID, ...]
    cycle: int
    reopen_count: int
    state: CaseState
    ended_clocks: tuple[EndedClock, ...] = ()
    first_response_at: datetime | None = None
    first_response_seconds: float | None = None
    resolved_at: datetime | None = None
    resolution_seconds: float | None = None
    closed_at: datetime | None = None
    root_cause_category: str | None = None
    revisit_outcome: str | None = None
    revisit_score: int | None = None
    breached: bool = False
    # The earliest instant a running clock falls due; None while paused or with none running.
    next_due_at: datetime | None = None


class TimelineRow(NamedTuple):
    """One case event and what became of it (fields in the table's column order)."""

    # A tuple, not a frozen dataclass: one is built per event, at a fifth of the cost, and
    # it is the COPY record as it stands but for the payload's encoding.

    case_id: UUID
    event_id: UUID
    partition: int
    position: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor_kind: str
    actor_id: str
    payload: dict[str, Any]
    outcome: str
    reason: str | None = None
    detail: str | None = None
    refused_by: str | None = None


@dataclass(frozen=True, slots=True)
class EscalationRow:
    """One notice of a fired step, as the escalations topic carried it."""

    escalation_id: UUID
    repeat: int
    audience: str
    case_id: UUID
    event_id: UUID
    partition: int
    position: int
    milestone: str
    cycle: int
    step: str
    tier: int
    reason: str
    due_at: datetime
    fired_at: datetime
    late_seconds: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """The worker refused an event: mark its timeline entry."""

    case_id: UUID
    event_id: UUID
    reason: str
    detail: str | None


@dataclass(slots=True)
class Batch:
    """Everything one poll's records change, written in one transaction."""

    cases: dict[UUID, CaseRow] = field(default_factory=dict)
    timeline: list[TimelineRow] = field(default_factory=list)
    escalations: list[EscalationRow] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    # Cases this batch writes first (no stored row before it).
    new_cases: set[UUID] = field(default_factory=set)
    # Change of the number of cases per (priority, status).
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    # The next offset to read per (topic, partition).
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    # Business seconds of first responses and resolutions seen for the first time.
    first_responses: list[float] = field(default_factory=list)
    resolutions: list[float] = field(default_factory=list)
    # Records that were not events, by reason; refusals the core here did not predict.
    undecodable: dict[str, int] = field(default_factory=dict)
    # What the batch adds to the report rollups.
    rollups: Rollups = field(default_factory=Rollups)
    disagreements: int = 0
    applied: int = 0
    skipped: int = 0
